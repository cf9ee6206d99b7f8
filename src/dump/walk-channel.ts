import { join } from 'node:path';
import { checkpointDir, clearCheckpoint, readCheckpoint, saveCheckpoint } from '../checkpoint.js';
import { ChatExportError, UsageError } from '../errors.js';
import { asLocalIoError } from '../fs-errors.js';
import type { HttpClient } from '../http/client.js';
import type { Logger } from '../log.js';
import { Spool } from '../pipeline/order.js';
import { inWindow, passedWindow, type TimeWindow } from '../pipeline/window.js';
import type { ResolvedProfile } from '../profile/resolve.js';
import type { Provider, ProviderSettings } from '../providers/types.js';
import type { Progress } from '../progress.js';
import { spoolCodecFor } from '../sinks/spool-codec.js';
import type { ChannelStart, Target } from '../targets/types.js';
import { walkCursor } from '../walk/cursor.js';
import { walkPages } from '../walk/pages.js';
import type { WalkBatch, WalkOptions } from '../walk/types.js';
import type { ChannelDone, ChannelJob, DumpOptions, DumpPlan } from './types.js';

/** Everything one channel's walk needs from the run. */
export interface WalkContext {
  options: DumpOptions;
  plan: DumpPlan;
  profile: ResolvedProfile;
  provider: Provider;
  settings: ProviderSettings;
  http: HttpClient;
  logger: Logger;
  progress: Progress;
  stateDir: string;
  /** messages held in memory before a sorted run spills to disk */
  runSize: number;
  keepHeapSmall: () => void;
  signal?: AbortSignal | undefined;
}

/**
 * Walks one channel: into the spool (sorted and checkpointed; the caller then
 * hands the result to `target.deliver`), or batch by batch straight into
 * targets that take batches (then there is nothing left to deliver).
 */
export async function walkChannel(job: ChannelJob, target: Target, ctx: WalkContext): Promise<ChannelDone | undefined> {
  const start = (await target.prepare?.(job)) ?? {};
  if (target.openChannel) {
    await walkIntoWriter(job, target, start, ctx);
    return undefined;
  }
  return walkIntoSpool(job, start, ctx);
}

function windowOf(plan: DumpPlan, start: ChannelStart): TimeWindow {
  const window = plan.window;
  return start.after ? { ...window, after: { time: start.after.time, ids: new Set(start.after.ids) } } : window;
}

function startWalk(job: ChannelJob, ctx: WalkContext, window: TimeWindow, resumeFrom: WalkOptions['resumeFrom'], stats: WalkOptions['stats']): AsyncGenerator<WalkBatch> {
  const options: WalkOptions = {
    http: ctx.http,
    settings: ctx.settings,
    target: job.target,
    pageSize: ctx.plan.pageSize,
    concurrency: ctx.profile.concurrency,
    until: window.until,
    logger: ctx.logger,
    label: job.label,
    signal: ctx.signal,
    resumeFrom,
    stats,
  };
  return ctx.provider.paging === 'cursor' ? walkCursor(ctx.provider, options) : walkPages(ctx.provider, options);
}

async function walkIntoWriter(job: ChannelJob, target: Target, start: ChannelStart, ctx: WalkContext): Promise<void> {
  const window = windowOf(ctx.plan, start);
  const bar = ctx.progress.start(job.label, { totalIsExact: isWhole(ctx.plan, window) && start.resumeFrom === undefined });
  const writer = await target.openChannel!(job, start);
  let kept = 0;
  try {
    for await (const batch of startWalk(job, ctx, window, start.resumeFrom, bar.stats)) {
      const entries = batch.entries.filter((entry) => inWindow(window, entry.time, entry.message.id));
      kept += entries.length;
      await writer.batch({ ...batch, entries });
      bar.update(batch, kept);
      ctx.keepHeapSmall();
      if (passedWindow(window, batch.oldest)) break;
    }
    bar.finish(await writer.finish());
  } catch (error) {
    bar.fail();
    await writer.abort(error);
    throw error;
  }
}

async function walkIntoSpool(job: ChannelJob, start: ChannelStart, ctx: WalkContext): Promise<ChannelDone> {
  const { options, plan, profile, logger } = ctx;
  let window = windowOf(plan, start);
  const checkpoints = job.checkpoints;
  const key = JSON.stringify({
    profile: profile.name,
    channel: job.target,
    since: options.since ?? null,
    until: options.until ?? null,
    after: window.after?.time ?? null,
    limit: plan.limit ?? null,
    order: plan.order,
    // the spool holds format-specific lines (spool-codec.ts)
    format: plan.format,
    excel: plan.excel,
  });
  const saved = options.resume ? await readCheckpoint(checkpoints) : undefined;
  const resumed = saved?.key === key ? saved : undefined;
  if (options.resume && !resumed) logger.info(`${job.label}: no checkpoint of this export to resume; starting from the beginning`);
  if (!resumed) await clearCheckpoint(checkpoints);
  if (resumed) {
    window = { ...window, since: resumed.since ?? undefined, until: resumed.until ?? undefined };
    logger.info(`${job.label}: resuming after ${resumed.kept} messages`);
  }
  const bar = ctx.progress.start(job.label, { totalIsExact: !resumed && isWhole(plan, window) });
  const codec = spoolCodecFor(plan.format, { excel: plan.excel });
  const spool = new Spool(join(checkpoints, 'spool'), plan.order, ctx.runSize, resumed?.runs ?? [], undefined, codec.keyOf);
  let kept = resumed?.kept ?? 0;
  let newest: ChannelDone['newest'] = resumed?.newest ?? undefined;
  try {
    for await (const batch of startWalk(job, ctx, window, resumed?.walk, bar.stats)) {
      for (const entry of batch.entries) {
        if (!inWindow(window, entry.time, entry.message.id)) continue;
        spool.add(entry.time, entry.message.id, codec.encode(entry.message));
        kept++;
        if (!newest || entry.time > newest.time) newest = { time: entry.time, ids: [entry.message.id] };
        else if (entry.time === newest.time) newest.ids.push(entry.message.id);
      }
      bar.update(batch, kept);
      ctx.keepHeapSmall();
      if (await spool.maybeFlush()) {
        await saveCheckpoint(checkpoints, {
          version: 1,
          key,
          runs: [...spool.spilled],
          walk: batch.checkpoint,
          kept,
          newest: newest ?? null,
          since: window.since ?? null,
          until: window.until ?? null,
        });
      }
      if (passedWindow(window, batch.oldest)) break;
      if (plan.limit !== undefined && kept >= plan.limit) break;
    }
    const result = await spool.finish();
    // --limit keeps the newest N, wherever the order puts them.
    const take = plan.limit === undefined ? result.count : Math.min(plan.limit, result.count);
    const skip = plan.order === 'asc' ? result.count - take : 0;
    bar.finish(take);
    // With --limit the newest kept message is still the newest: the limit keeps the newest N.
    return { job, spool, result, skip, take, newest, checkpoints, written: { bytes: 0 } };
  } catch (caught) {
    const error = asLocalIoError(caught, { label: job.label });
    bar.fail();
    // Keep what is on disk for --resume; a walk that spilled nothing, or spooled
    // privately beside a concurrent run, has nothing --resume could find.
    if (spool.spilled.length === 0 || checkpoints !== checkpointDir(ctx.stateDir, job.stateName)) await clearCheckpoint(checkpoints);
    else if (error instanceof ChatExportError && !(error instanceof UsageError)) {
      throw withHint(error, `run the same command with --resume to continue from the ${kept} messages already fetched`);
    }
    throw error;
  }
}

/** The API's total is what this run exports only when nothing narrows it (progress shows "of N" then). */
function isWhole(plan: DumpPlan, window: TimeWindow): boolean {
  return window.since === undefined && window.until === undefined && window.after === undefined && plan.limit === undefined;
}

function withHint(error: ChatExportError, hint: string): ChatExportError {
  Object.defineProperty(error, 'hint', { value: error.hint ? `${error.hint}; ${hint}` : hint });
  return error;
}
