import { basename } from 'node:path';
import { checkpointDir, clearCheckpoint } from '../checkpoint.js';
import { UsageError } from '../errors.js';
import { listStates, removeState, type ChannelState } from '../state.js';
import { redactUrl } from '../text/sanitize.js';

export interface StateContext {
  stateDir: string;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** The API root a state was made against, as shown and as matched by --base-url. */
function apiOf(state: ChannelState): string | undefined {
  if (state.api === undefined) return undefined;
  const shown = redactUrl(state.api);
  // URL parsing adds a "/" to a bare origin; show the root as it was given
  return state.api.endsWith('/') ? shown : shown.replace(/\/$/, '');
}

/** "https://api.example.com/" and "https://api.example.com" are one API root. */
function sameApi(a: string, b: string): boolean {
  const normal = (url: string) => url.trim().replace(/\/+$/, '').toLowerCase();
  return normal(a) === normal(b);
}

/** One line per profile, channel and API root with incremental state: what a cron user checks. */
export async function stateList(ctx: StateContext): Promise<void> {
  const states = await listStates(ctx.stateDir);
  if (states.length === 0) {
    ctx.stderr.write(`chat-export: no incremental state in ${ctx.stateDir}\n`);
    return;
  }
  // A person reading a terminal gets column names; a pipe (cut, awk) gets only the rows, as before.
  if ((ctx.stdout as { isTTY?: boolean }).isTTY) {
    ctx.stdout.write(['profile', 'channel', 'API root', 'output', 'format', 'newest', 'messages', 'updated'].join('\t') + '\n');
  }
  for (const { file, state, error } of states) {
    if (!state) {
      ctx.stdout.write(`${file}\tunreadable: ${error ?? ''}\n`);
      continue;
    }
    const newest = state.newest ? new Date(state.newest.time).toISOString() : '-';
    ctx.stdout.write(
      [
        state.profile,
        state.kind === 'peer' ? `peer:${state.channel}` : state.channel,
        // the same channel id on two servers is two histories: the API root tells the lines apart
        apiOf(state) ?? '(API root not recorded)',
        state.output,
        state.format,
        `newest ${newest}`,
        `${state.messages} messages`,
        `updated ${state.updatedAt}`,
      ].join('\t') + '\n',
    );
  }
}

/**
 * Forget state (the next --incremental run is a full export): one channel of
 * a profile, every channel of a profile, or everything with --all. Several
 * API roots for one channel must be told apart with --base-url; nothing
 * matched is exit 2, not a silent success.
 */
export async function stateReset(
  profile: string | undefined,
  options: { channel?: string[]; peer?: string[]; all?: boolean; baseUrl?: string },
  ctx: StateContext,
): Promise<void> {
  const states = await listStates(ctx.stateDir);
  const remove = async (file: string) => {
    const name = basename(file);
    await clearCheckpoint(checkpointDir(ctx.stateDir, name));
    return removeState(ctx.stateDir, name);
  };
  if (options.all) {
    if (profile !== undefined) throw new UsageError('give a profile or --all, not both');
    let removed = 0;
    // Only files that are ours by name and by content: the state directory may be shared with anything.
    for (const { file, state } of states) if (state && (await remove(file))) removed++;
    ctx.stderr.write(`chat-export: removed ${removed} incremental state${removed === 1 ? '' : 's'} in ${ctx.stateDir}\n`);
    return;
  }
  if (!profile) {
    throw new UsageError('say which state to reset', { hint: 'chat-export state reset PROFILE [--channel ID] [--base-url URL], or --all' });
  }
  const ofProfile = states.filter(({ state }) => state?.profile === profile && (options.baseUrl === undefined || (state.api !== undefined && sameApi(state.api, options.baseUrl))));
  const where = options.baseUrl === undefined ? '' : ` at ${redactUrl(options.baseUrl)}`;
  const targets = [
    ...(options.channel ?? []).map((id) => ({ kind: 'channel' as const, id })),
    ...(options.peer ?? []).map((id) => ({ kind: 'peer' as const, id })),
  ];
  if (targets.length === 0) {
    if (ofProfile.length === 0) throw nothingMatched(`${profile}${where}`, states);
    for (const { file } of ofProfile) await remove(file);
    ctx.stderr.write(`chat-export: reset ${ofProfile.length} channel${ofProfile.length === 1 ? '' : 's'} of ${profile}${where}\n`);
    return;
  }
  // Decided for every target before anything is removed: a mistake in one must not half-apply the command.
  const plan = targets.map((target) => {
    const matches = ofProfile.filter(({ state }) => state!.kind === target.kind && state!.channel === target.id);
    const what = `${profile} ${target.kind} ${target.id}${where}`;
    if (matches.length === 0) throw nothingMatched(what, states);
    // One API root may hold a state per output (a transcript and a data file of one channel): all are forgotten.
    const apis = [...new Set(matches.map(({ state }) => apiOf(state!) ?? '(not recorded)'))];
    if (apis.length > 1) {
      throw new UsageError(`${what} has state for ${apis.length} API roots: ${apis.join(', ')}`, {
        hint: 'add --base-url URL to choose one (chat-export state list shows them)',
      });
    }
    return { what, files: matches.map(({ file }) => file) };
  });
  for (const { what, files } of plan) {
    for (const file of files) await remove(file);
    ctx.stderr.write(`chat-export: reset ${what}${files.length > 1 ? ` (${files.length} outputs)` : ''}\n`);
  }
}

function nothingMatched(what: string, states: Array<{ state: ChannelState | undefined }>): UsageError {
  const profiles = [...new Set(states.flatMap(({ state }) => (state ? [state.profile] : [])))].sort();
  return new UsageError(`no incremental state for ${what}`, {
    hint: profiles.length > 0 ? `profiles with state: ${profiles.join(', ')} (chat-export state list)` : 'there is no incremental state at all',
  });
}
