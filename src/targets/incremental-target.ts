import { createReadStream } from 'node:fs';
import { open, stat, truncate } from 'node:fs/promises';
import { clearCheckpoint } from '../checkpoint.js';
import type { Logger } from '../log.js';
import type { ResolvedProfile } from '../profile/resolve.js';
import { openAtomic } from '../sinks/atomic-file.js';
import { lastDayWritten } from '../sinks/markdown.js';
import { createSink } from '../sinks/registry.js';
import { writeChannel, writeChunk } from '../sinks/write.js';
import { readState, writeState, type ChannelState } from '../state.js';
import type { ChannelDone, ChannelJob, DumpPlan } from '../dump/types.js';
import type { TargetContext } from './context.js';
import type { ChannelStart, Target } from './types.js';
import { summaryOf, writeInto } from './write-spooled.js';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * --incremental state of one channel, repaired if the last append was cut
 * short. A state whose output is gone, or that was written for another
 * output, format or order, starts over with a full export.
 */
export async function loadIncrementalState(stateDir: string, job: ChannelJob, plan: DumpPlan, logger: Logger): Promise<ChannelState | undefined> {
  const state = await readState(stateDir, job.stateName);
  if (!state) return undefined;
  const output = job.path ?? '-';
  if (state.output !== output || state.format !== plan.format || state.order !== plan.order) {
    logger.warn(`${job.label}: last incremental run wrote ${state.output} (${state.format}, ${state.order}); starting over with a full export to ${output}`);
    return undefined;
  }
  if (output === '-') return state;
  const info = await stat(output).catch(() => undefined);
  if (!info) {
    logger.warn(`${job.label}: ${output} is gone; starting over with a full export`);
    return undefined;
  }
  if (state.order === 'desc') {
    // Newest-first files are rewritten whole (atomically), never appended to: nothing is cut back. A size
    // other than the recorded one means a rewrite was renamed into place but its state never written (or
    // the file was edited): which messages it holds is unknown, so start over rather than add some twice.
    if (info.size !== state.size) {
      logger.warn(`${job.label}: ${output} is not the file the last run recorded (${state.size} → ${info.size} bytes); starting over with a full export`);
      return undefined;
    }
    return state.pending ? { ...state, pending: null } : state;
  }
  if (state.pending) {
    // The previous run died while appending: cut the output back to where that append began.
    if (info.size > state.pending.size) await truncate(output, state.pending.size);
    logger.warn(`${job.label}: the last run was interrupted while appending to ${output}; removed its partial append`);
    const repaired: ChannelState = { ...state, size: state.pending.size, pending: null };
    await writeState(stateDir, job.stateName, repaired);
    return repaired;
  }
  if (info.size !== state.size) {
    logger.warn(`${job.label}: ${output} changed since the last run (${state.size} → ${info.size} bytes); appending after its current end`);
  }
  return state;
}

export async function recordState(
  stateDir: string,
  done: ChannelDone,
  output: string,
  plan: DumpPlan,
  profile: ResolvedProfile,
  file: { size: number; lastDay: string | null },
): Promise<void> {
  const previous = done.job.state;
  let newest = previous?.newest ?? null;
  if (done.newest && (!newest || done.newest.time > newest.time)) newest = done.newest;
  else if (done.newest && newest && done.newest.time === newest.time) {
    newest = { time: newest.time, ids: [...new Set([...newest.ids, ...done.newest.ids])] };
  }
  await writeState(stateDir, done.job.stateName, {
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
    api: plan.baseUrl,
  });
}

/**
 * --incremental into a file per channel (or the one file of a one-channel
 * run): only messages newer than the state's newest are kept, appended after
 * the whole new window is fetched, then the state records the file.
 */
export function createIncrementalTarget(ctx: TargetContext): Target {
  return {
    ordered: false,
    async prepare(job: ChannelJob): Promise<ChannelStart> {
      job.state = await loadIncrementalState(ctx.stateDir, job, ctx.plan, ctx.logger);
      return { after: job.state?.newest ?? undefined };
    },
    async deliver(done: ChannelDone): Promise<void> {
      const path = done.job.path!;
      await mkdir(dirname(path), { recursive: true });
      await deliverIncremental(done, path, ctx.plan, ctx.profile, ctx.stateDir, ctx.logger);
    },
    async close(): Promise<void> {},
  };
}

/**
 * Appends only after the whole new window is fetched (it is in the spool by
 * now), then records state. Newest-first files get the new messages at the
 * top, which means rewriting them (atomically).
 */
async function deliverIncremental(
  done: ChannelDone,
  path: string,
  plan: DumpPlan,
  profile: ResolvedProfile,
  stateDir: string,
  logger: Logger,
): Promise<void> {
  const state = done.job.state;
  if (!state) {
    const summary = summaryOf(done, plan, profile);
    await writeInto(await openAtomic(path), done, plan, profile, 0);
    const { size } = await stat(path);
    await recordState(stateDir, done, path, plan, profile, { size, lastDay: plan.format === 'md' ? lastDayWritten(summary) : null });
    return;
  }
  if (done.take === 0) {
    logger.info(`${done.job.label}: nothing new since ${state.updatedAt}`);
    await done.spool.dispose();
    await clearCheckpoint(done.checkpoints);
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
    await recordState(stateDir, done, path, plan, profile, { size, lastDay: null });
    return;
  }
  const start = (await stat(path)).size;
  await writeState(stateDir, done.job.stateName, { ...state, pending: { size: start } });
  const append = { lastDay: state.lastDay };
  const summary = summaryOf(done, plan, profile, append);
  const file = await open(path, 'a');
  const stream = file.createWriteStream();
  try {
    await writeChannel(stream, createSink(plan.format, { excel: plan.excel }), summary, done.result, {
      format: plan.format,
      skip: done.skip,
      take: done.take,
      counter: done.written,
    });
    stream.end();
    await new Promise<void>((resolve, reject) => {
      stream.once('finish', resolve);
      stream.once('error', reject);
    });
    const reopened = await open(path, 'r');
    await reopened.sync();
    await reopened.close();
  } finally {
    await done.spool.dispose();
    await clearCheckpoint(done.checkpoints);
    if (!stream.closed) stream.destroy();
  }
  const { size } = await stat(path);
  await recordState(stateDir, done, path, plan, profile, { size, lastDay: plan.format === 'md' ? lastDayWritten(summary) : null });
}
