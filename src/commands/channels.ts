/**
 * `chat-export channels --provider P [--json]` (DESIGN.md sections 2 and 4c):
 * the conversations the credential can see, as the definition's `channels`
 * part lists them — a table on a terminal, JSONL with --json (or into a pipe
 * when asked).
 */
import { listAll } from '../dump/all-channels.js';
import { numberFromEnv, planDump } from '../dump/plan.js';
import { HttpClient } from '../http/client.js';
import { proxyFromEnv } from '../http/proxy.js';
import { createLogger } from '../log.js';
import { resolveProfile } from '../profile/resolve.js';
import { loadConfig, resolveConfigPath } from '../profile/store.js';
import { getProvider } from '../providers/registry.js';
import type { ListedChannel } from '../providers/types.js';
import type { DumpIo, DumpOptions } from '../run/types.js';
import { registerSecret, sanitizeForTerminal } from '../text/sanitize.js';

export type ChannelsOptions = Pick<DumpOptions, 'provider' | 'baseUrl' | 'token' | 'apiKey' | 'pageSize' | 'rate' | 'retries' | 'timeout' | 'allowInsecure' | 'quiet' | 'verbose' | 'config'> & {
  json?: boolean | undefined;
};

export async function runChannels(options: ChannelsOptions, io: DumpIo): Promise<void> {
  const logger = createLogger(options.quiet ? 'quiet' : options.verbose ? 'verbose' : 'normal', io.stderr);
  const configPath = resolveConfigPath(options.config, io.env);
  const config = loadConfig(configPath, (line) => logger.warn(line));
  // the output is this command's own (stdout): a profile's -o does not apply
  const flags = { ...options, output: '-', allChannels: true } as DumpOptions;
  const profile = resolveProfile(options.provider, flags, io.env, config, (name) => ({ baseUrl: getProvider(name, config.providers ?? {}).defaultBaseUrl }));
  registerSecret(profile.token);
  registerSecret(profile.apiKey);
  const provider = getProvider(profile.provider, config.providers ?? {});
  const warnings: string[] = [];
  // the same checks as dump's, before any request: API root, credentials, numbers
  const plan = planDump(flags, { ...profile, output: '-' }, provider, warnings);
  for (const line of warnings) logger.warn(line);
  proxyFromEnv(io.env);
  const http = new HttpClient({ timeoutMs: profile.timeout, retries: profile.retries, rate: profile.rate, logger, retryBaseMs: numberFromEnv(io.env.CHAT_EXPORT_RETRY_BASE_MS), env: io.env });
  let listed: ListedChannel[];
  try {
    listed = await listAll({
      provider,
      settings: { baseUrl: plan.baseUrl, token: profile.token, apiKey: profile.apiKey, timezone: profile.timezone, raw: false },
      http,
      logger,
      pageSize: profile.pageSize,
      concurrency: profile.concurrency,
      signal: io.signal,
    });
  } finally {
    await http.close();
  }
  const out = options.json || !io.stdout.isTTY ? listed.map(jsonLine).join('') : table(listed);
  await new Promise<void>((resolve, reject) => io.stdout.write(out, (error) => (error ? reject(error) : resolve())));
}

function jsonLine(c: ListedChannel): string {
  return `${JSON.stringify({ id: c.id, name: c.name, kind: c.kind, parent: c.parent, archived: c.archived, readable: c.readable })}\n`;
}

/** Columns padded to their widest cell (names and ids sanitized: they reach a terminal). */
function table(listed: ListedChannel[]): string {
  const rows = [
    ['ID', 'NAME', 'KIND', 'PARENT', 'ARCHIVED', 'READABLE'],
    ...listed.map((c) => [c.id, c.name ?? '', c.kind ?? '', c.parent ?? '', c.archived ? 'yes' : '', c.readable ? 'yes' : 'no'].map((cell) => sanitizeForTerminal(cell).replace(/\s+/g, ' '))),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => [...row[column]!].length)));
  return rows.map((row) => `${row.map((cell, column) => cell + ' '.repeat(widths[column]! - [...cell].length)).join('  ').trimEnd()}\n`).join('');
}
