import type { CommandContext } from './profile.js';

/** The file in force: `--config`, else CHAT_EXPORT_CONFIG, else conf's per-user location. */
export function configPath(ctx: Pick<CommandContext, 'configPath' | 'stdout'>): void {
  ctx.stdout.write(`${ctx.configPath}\n`);
}
