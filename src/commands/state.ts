import { checkpointDir, clearCheckpoint } from '../checkpoint.js';
import { UsageError } from '../errors.js';
import { basename } from 'node:path';
import { listStates, removeState } from '../state.js';

export interface StateContext {
  stateDir: string;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** One line per profile+channel with incremental state: what a cron user checks. */
export async function stateList(ctx: StateContext): Promise<void> {
  const states = await listStates(ctx.stateDir);
  if (states.length === 0) {
    ctx.stderr.write(`chat-export: no incremental state in ${ctx.stateDir}\n`);
    return;
  }
  for (const { file, state, error } of states) {
    if (!state) {
      ctx.stdout.write(`${file}\tunreadable: ${error ?? ''}\n`);
      continue;
    }
    const newest = state.newest ? new Date(state.newest.time).toISOString() : '-';
    ctx.stdout.write(
      [state.profile, state.kind === 'peer' ? `peer:${state.channel}` : state.channel, state.output, state.format, `newest ${newest}`, `${state.messages} messages`, `updated ${state.updatedAt}`].join('\t') + '\n',
    );
  }
}

/** Forget a channel's state (the next --incremental run is a full export), or every channel's with --all. */
export async function stateReset(
  profile: string | undefined,
  options: { channel?: string[]; peer?: string[]; all?: boolean },
  ctx: StateContext,
): Promise<void> {
  if (options.all) {
    // Only files that are ours by name and by content: the state directory may be shared with anything.
    for (const { file, state } of await listStates(ctx.stateDir)) {
      if (!state) continue;
      const name = basename(file);
      await removeState(ctx.stateDir, name);
      await clearCheckpoint(checkpointDir(ctx.stateDir, name));
    }
    ctx.stderr.write(`chat-export: removed all incremental state in ${ctx.stateDir}\n`);
    return;
  }
  const targets = [
    ...(options.channel ?? []).map((id) => ({ kind: 'channel', id })),
    ...(options.peer ?? []).map((id) => ({ kind: 'peer', id })),
  ];
  if (!profile || targets.length === 0) {
    throw new UsageError('say which state to reset', { hint: 'chat-export state reset PROFILE --channel ID (or --all)' });
  }
  // Matched by content: a state's file name also hashes the API root it was made against.
  const states = await listStates(ctx.stateDir);
  for (const target of targets) {
    let removed = 0;
    for (const { file, state } of states) {
      if (state?.profile !== profile || state.kind !== target.kind || state.channel !== target.id) continue;
      const name = basename(file);
      if (await removeState(ctx.stateDir, name)) removed++;
      await clearCheckpoint(checkpointDir(ctx.stateDir, name));
    }
    ctx.stderr.write(`chat-export: ${removed ? 'reset' : 'no state for'} ${profile} ${target.kind} ${target.id}\n`);
  }
}
