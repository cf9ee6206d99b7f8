import { createReadStream } from 'node:fs';
import { once } from 'node:events';
import { mkdir, open, stat, truncate } from 'node:fs/promises';
import { dirname } from 'node:path';
import { finished } from 'node:stream/promises';
import { clearCheckpoint } from '../checkpoint.js';
import { CLOCK_SKEW_MS } from '../run/clock-skew.js';
import type { ChannelDone, ChannelJob, DumpPlan } from '../run/types.js';
import { UsageError } from '../errors.js';
import type { ResolvedProfile } from '../profile/resolve.js';
import { openAtomic } from '../sinks/atomic-file.js';
import type { ChannelSummary } from '../sinks/types.js';
import { buildReplyIndex, nextReplyWindow, withEarlier, type ReplyWindow } from '../sinks/reply-context.js';
import { createSink } from '../sinks/registry.js';
import { writeChannel, writeChunk } from '../sinks/write.js';
import { listStates, readState, removeState, writeState, type ChannelState } from '../state.js';
import { readExisting } from './adopt.js';
import type { TargetContext } from './context.js';
import { fingerprintFile } from './fingerprint.js';
import type { ChannelStart, Target } from './types.js';
import { definitionDigest } from '../walk/identity.js';
import { summaryOf, writeInto } from './write-spooled.js';

/**
 * --incremental into a file per channel (or the one file of a one-channel
 * run). It appends only to a file it can prove it wrote last (its size and
 * fingerprint in the state), keeps only messages newer than the state's
 * watermark, appends after the whole new window is fetched, then records the
 * file again. Anything it cannot prove is exit 2 before any request.
 */
export function createIncrementalTarget(ctx: TargetContext, options: { adopt: boolean }): Target {
  return {
    ordered: false,
    async prepare(job: ChannelJob): Promise<ChannelStart> {
      job.state = await provenState(ctx, job, options.adopt);
      const start = startOf(job.state);
      // written under another definition: its newest messages must come back the same before anything is appended
      const recorded = job.state?.definition;
      if (recorded !== undefined && ctx.provider && recorded !== definitionDigest(ctx.provider) && start.after) return { ...start, confirm: { output: job.path! } };
      return start;
    },
    async deliver(done: ChannelDone): Promise<void> {
      const path = done.job.path!;
      await mkdir(dirname(path), { recursive: true });
      await deliverIncremental(done, path, ctx);
      await done.spool.dispose();
      await clearCheckpoint(done.checkpoints);
    },
    async close(): Promise<void> {},
  };
}

export function startOf(state: ChannelState | undefined): ChannelStart {
  return { after: state?.newest ?? undefined, written: state?.future.map((f) => f.id) };
}

/** The state of a channel whose output is stdout (nothing to prove). */
export async function loadStreamState(ctx: TargetContext, job: ChannelJob): Promise<ChannelState | undefined> {
  const state = await readOwnState(ctx.stateDir, job, '-');
  if (state && (state.format !== ctx.plan.format || state.order !== ctx.plan.order)) {
    ctx.logger.warn(`${job.label}: the last incremental run to stdout wrote ${state.format}, ${state.order}; this one writes everything again`);
    return undefined;
  }
  return state;
}

function sourceOf(ctx: TargetContext, job: ChannelJob): string {
  return `${ctx.profile.provider} ${ctx.plan.apiRoot} ${job.target.kind === 'peer' ? 'peer' : 'channel'} ${job.target.id}`;
}

/**
 * The state of this source, proven to describe `job.path` as it is now; or
 * undefined for a first run into an absent or empty file. Everything else —
 * a file no state of this source records, a file another source's state owns,
 * a file changed since (size or fingerprint), a recorded file that is gone —
 * is exit 2, naming the file and the way forward.
 */
async function provenState(ctx: TargetContext, job: ChannelJob, adopt: boolean): Promise<ChannelState | undefined> {
  const { plan, stateDir, logger } = ctx;
  const output = job.path!;
  let state = await readOwnState(stateDir, job, output);
  const source = sourceOf(ctx, job);

  for (const other of await listStates(stateDir)) {
    if (!other.state || other.state.output !== output) continue;
    if ([job.outputStateName, job.stateName, job.legacyStateName].some((name) => other.file.endsWith(`/${name}`))) continue;
    const owner = other.state;
    if (owner.provider === ctx.profile.provider && owner.channel === job.target.id && owner.kind === job.target.kind && (owner.api ?? ctx.plan.apiRoot) === ctx.plan.apiRoot) continue;
    throw new UsageError(
      `${output} belongs to the incremental export of ${owner.provider} ${owner.api ?? ''} ${owner.kind} ${owner.channel} (profile ${owner.profile}); refusing to add ${source} to it`,
      { hint: 'give this channel its own output (-o dir/ or a template with {host} / {profile}), or forget the other with chat-export state reset' },
    );
  }

  const info = await stat(output).catch(() => undefined);
  const exists = info !== undefined && (!info.isFile() || info.size > 0);
  if (info && !info.isFile()) {
    throw new UsageError(`--incremental appends to a regular file; ${output} is not one`, { hint: 'write to a file, or use stdout (-o -)' });
  }

  if (state && (state.output !== output || state.format !== plan.format || state.order !== plan.order)) {
    if (exists && !adopt) {
      throw new UsageError(`${output} already exists, and the last incremental run of ${source} wrote ${state.output} (${state.format}, ${state.order})`, {
        hint: `refusing to append to or replace a file it cannot prove it wrote: pass --adopt to continue ${output} (its newest message is read from it), or choose another -o`,
      });
    }
    if (!exists) logger.warn(`${job.label}: the last incremental run wrote ${state.output} (${state.format}, ${state.order}); starting a new full export into ${output}`);
    state = undefined;
  }

  if (!state) {
    if (!exists) return undefined;
    if (!adopt) {
      throw new UsageError(`${output} already exists and no incremental state of ${source} records it`, {
        hint: 'refusing to append to or replace a file this run cannot prove it wrote: pass --adopt to continue it (its newest message is read from it), or choose another -o',
      });
    }
    return adoptFile(ctx, job, output, undefined);
  }

  if (!info) {
    throw new UsageError(
      `${output} is gone, but the incremental state of ${source} says it held ${state.messages} messages (the newest ${state.newest ? new Date(state.newest.time).toISOString() : 'none'})`,
      { hint: `restore the file; or, to start a new file with a full export, forget the state first: chat-export state reset ${ctx.profile.name} --${job.target.kind} ${job.target.id}` },
    );
  }

  let current = info.size;
  if (state.pending && state.order === 'asc' && current > state.pending.size && state.pending.size === state.size) {
    // The previous run died while appending: cut the output back to where that append began.
    await truncate(output, state.pending.size);
    current = state.pending.size;
    logger.warn(`${job.label}: the last run was interrupted while appending to ${output}; removed its partial append`);
  }
  const changed =
    current !== state.size
      ? `its size changed since the last run (${state.size} → ${current} bytes)`
      : state.fingerprint && !sameFingerprint(state.fingerprint, await fingerprintFile(output, current))
        ? 'its content changed since the last run'
        : undefined;
  if (changed) {
    if (adopt) return adoptFile(ctx, job, output, state);
    throw new UsageError(`${output} is not the file the last incremental run of ${source} wrote: ${changed}`, {
      hint: 'restore it as that run left it; or pass --adopt to continue it as it is now (its newest message is read from it)',
    });
  }
  if (state.pending) {
    state = { ...state, pending: null };
    await writeState(stateDir, job.outputStateName, state);
  }
  return state;
}

function sameFingerprint(a: { head: string; tail: string }, b: { head: string; tail: string }): boolean {
  return a.head === b.head && a.tail === b.tail;
}

/** --adopt: take the file as it is, its newest message read from it. */
async function adoptFile(ctx: TargetContext, job: ChannelJob, output: string, previous: ChannelState | undefined): Promise<ChannelState | undefined> {
  // An empty file holds nothing to continue: the run is a first one (header and all).
  if ((await stat(output)).size === 0) return undefined;
  const read = await readExisting(output, ctx.plan.format, { provider: ctx.profile.provider, channel: job.target.id }, Date.now() + CLOCK_SKEW_MS);
  const { size } = await stat(output);
  const state: ChannelState = {
    version: 1,
    profile: ctx.profile.name,
    provider: ctx.profile.provider,
    channel: job.target.id,
    kind: job.target.kind,
    newest: read.newest,
    output,
    format: ctx.plan.format,
    order: ctx.plan.order,
    size,
    lastDay: null,
    messages: read.messages,
    updatedAt: new Date().toISOString(),
    pending: null,
    api: ctx.plan.apiRoot,
    fingerprint: await fingerprintFile(output, size),
    future: read.future,
  };
  await writeState(ctx.stateDir, job.outputStateName, state);
  ctx.logger.info(
    `${job.label}: adopted ${output} (${read.messages} messages${previous ? '; it differed from the last recorded run' : ''}); continuing after ${read.newest ? new Date(read.newest.time).toISOString() : 'its start'}`,
  );
  return state;
}

export async function recordState(
  ctx: TargetContext,
  done: ChannelDone,
  output: string,
  file: { size: number; lastDay: string | null; replies?: ReplyWindow | undefined },
): Promise<void> {
  const { plan, profile } = ctx;
  const previous = done.job.state;
  let newest = previous?.newest ?? null;
  if (done.newest && (!newest || done.newest.time > newest.time)) newest = done.newest;
  else if (done.newest && newest && done.newest.time === newest.time) {
    newest = { time: newest.time, ids: [...new Set([...newest.ids, ...done.newest.ids])] };
  }
  // Messages once in the future that the clock has since passed are below the watermark now.
  const future = new Map<string, number>();
  for (const f of [...(previous?.future ?? []), ...done.future]) if (!newest || f.time > newest.time) future.set(f.id, f.time);
  await writeState(ctx.stateDir, done.job.outputStateName, {
    version: 1,
    profile: profile.name,
    provider: profile.provider,
    channel: done.job.target.id,
    kind: done.job.target.kind,
    newest,
    output,
    format: plan.format,
    order: plan.order,
    size: file.size,
    lastDay: file.lastDay,
    messages: (previous?.messages ?? 0) + done.take,
    updatedAt: new Date().toISOString(),
    pending: null,
    api: plan.apiRoot,
    ...(ctx.provider ? { definition: definitionDigest(ctx.provider) } : {}),
    fingerprint: output === '-' ? null : await fingerprintFile(output, file.size),
    future: [...future].map(([id, time]) => ({ id, time })),
    ...(file.replies ? { replies: file.replies } : {}),
    ...(done.threads ? { threads: done.threads.toJSON() } : {}),
  });
  await removeMovedStates(ctx.stateDir, done.job, output);
}

/**
 * This source's state for `output`: under its own name, or — written before each output kept its own, or
 * before API roots were normalized — under the source's name, when that one records this same output.
 * A source's state for another output is that output's: this one starts its own.
 */
export async function readOwnState(stateDir: string, job: ChannelJob, output: string): Promise<ChannelState | undefined> {
  const own = await readState(stateDir, job.outputStateName);
  if (own) return own;
  for (const name of [job.stateName, job.legacyStateName]) {
    const earlier = await readState(stateDir, name);
    if (earlier && earlier.output === output) return earlier;
  }
  return undefined;
}

/** Once recorded under its own name, an earlier state of this output (see readOwnState) is removed. */
async function removeMovedStates(stateDir: string, job: ChannelJob, output: string): Promise<void> {
  for (const name of new Set([job.stateName, job.legacyStateName])) {
    if (name === job.outputStateName) continue;
    const earlier = await readState(stateDir, name).catch(() => undefined);
    if (earlier && earlier.output === output) await removeState(stateDir, name);
  }
}

/**
 * Appends only after the whole new window is fetched (it is in the spool by
 * now), then records state. Newest-first files get the new messages at the
 * top, which means rewriting them (atomically).
 */
async function deliverIncremental(done: ChannelDone, path: string, ctx: TargetContext): Promise<void> {
  const { plan, profile, stateDir, logger } = ctx;
  const state = done.job.state;
  if (!state) {
    const summary = summaryOf(done, plan, profile);
    const replies = plan.format === 'md' ? await nextReplyWindow(undefined, () => done.result.lines(), done) : undefined;
    await writeInto(await openAtomic(path), done, plan, profile, 0);
    const { size } = await stat(path);
    await recordState(ctx, done, path, { size, lastDay: await lastDayOf(plan, summary), replies });
    return;
  }
  // the summary says "N new messages appended" (or "nothing new"), not the file's whole count
  done.written.appended = true;
  if (done.take === 0) {
    logger.info(`${done.job.label}: nothing new since ${state.updatedAt}`);
    // the newest messages came back the same under an edited definition: it is this file's from now on
    const definition = ctx.provider ? definitionDigest(ctx.provider) : undefined;
    if (definition !== state.definition) await writeState(stateDir, done.job.stateName, { ...state, definition });
    return;
  }
  if (plan.order === 'desc') {
    const handle = await openAtomic(path);
    try {
      await writeInto(handle, done, plan, profile, 0, false);
      // The old file follows the new messages, streamed; its CSV header is already written.
      let skipHeader = plan.format === 'csv';
      for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
        let bytes = chunk as Buffer;
        if (skipHeader) {
          const newline = bytes.indexOf(10);
          if (newline < 0) continue;
          bytes = bytes.subarray(newline + 1);
          skipHeader = false;
        }
        await writeChunk(handle.stream, bytes);
      }
      await handle.commit();
    } catch (error) {
      await handle.abort();
      throw error;
    }
    const { size } = await stat(path);
    await recordState(ctx, done, path, { size, lastDay: null });
    return;
  }
  const start = (await stat(path)).size;
  await writeState(stateDir, done.job.outputStateName, { ...state, pending: { size: start } });
  const append = { lastDay: state.lastDay };
  let summary = summaryOf(done, plan, profile, append);
  let replies: ReplyWindow | undefined;
  if (plan.format === 'md') {
    // Replies to messages of earlier runs are quoted as a full export would quote them.
    summary = { ...summary, replies: withEarlier(await buildReplyIndex(() => done.result.lines(), done), state.replies) };
    replies = await nextReplyWindow(state.replies, () => done.result.lines(), done);
  }
  const file = await open(path, 'a');
  const stream = file.createWriteStream();
  // A failed append (disk full) is seen at the next write or at the end, not as an unheard 'error' event.
  stream.on('error', () => {});
  try {
    await writeChannel(stream, createSink(plan.format, { excel: plan.excel }), summary, done.result, {
      format: plan.format,
      skip: done.skip,
      take: done.take,
      counter: done.written,
    });
    stream.end();
    await finished(stream);
    const reopened = await open(path, 'r');
    await reopened.sync();
    await reopened.close();
  } catch (error) {
    // The earlier output stays as it was: the half-written append is cut off now (and, should
    // that fail too, by the next run through the state's pending size).
    if (!stream.closed) {
      stream.destroy();
      await once(stream, 'close').catch(() => {});
    }
    await truncate(path, start).catch(() => {});
    throw error;
  } finally {
    if (!stream.closed) stream.destroy();
  }
  const { size } = await stat(path);
  await recordState(ctx, done, path, { size, lastDay: await lastDayOf(plan, summary), replies });
}

/** A Markdown transcript's last day heading, for the next run to continue under; null for other formats. */
async function lastDayOf(plan: DumpPlan, summary: ChannelSummary): Promise<string | null> {
  if (plan.format !== 'md') return null;
  // The Markdown sink is loaded only by a run that writes Markdown (chooseTarget loaded it for this one).
  const { lastDayWritten } = await import('../sinks/markdown.js');
  return lastDayWritten(summary);
}
