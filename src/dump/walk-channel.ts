import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { checkpointDir, clearCheckpoint, readCheckpoint, saveCheckpoint, type Checkpoint } from '../checkpoint.js';
import { ChatExportError, InterruptedError, UsageError } from '../errors.js';
import { asLocalIoError } from '../fs-errors.js';
import type { HttpClient } from '../http/client.js';
import type { Logger } from '../log.js';
import { narrowSpan, Spool } from '../pipeline/order.js';
import { inWindow, passedWindow, type TimeWindow } from '../pipeline/window.js';
import type { ResolvedProfile } from '../profile/resolve.js';
import type { Provider, ProviderSettings } from '../providers/types.js';
import type { Progress } from '../progress.js';
import { spoolCodecFor } from '../sinks/spool-codec.js';
import type { ChannelStart, Target } from '../targets/types.js';
import { walkCursor } from '../walk/cursor.js';
import { walkPages } from '../walk/pages.js';
import { walkSequential } from '../walk/sequential.js';
import { definitionDigest } from '../walk/identity.js';
import { ThreadBook, walkWithThreads } from '../walk/threads.js';
import { readThreadBook, writeThreadBook } from './thread-book.js';
import type { WalkBatch, WalkCheckpoint, WalkOptions } from '../walk/types.js';
import { CLOCK_SKEW_MS } from '../run/clock-skew.js';
import type { ChannelDone, ChannelJob, DumpOptions, DumpPlan } from '../run/types.js';

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
  /** spill (and so checkpoint) at least this often while anything new was walked */
  checkpointEveryMs: number;
  signal?: AbortSignal | undefined;
}

/**
 * Walks one channel: into the spool (sorted and checkpointed; the caller then
 * hands the result to `target.deliver`), or batch by batch straight into
 * targets that take batches (then there is nothing left to deliver).
 */
export async function walkChannel(job: ChannelJob, target: Target, start: ChannelStart, ctx: WalkContext): Promise<ChannelDone | undefined> {
  if (target.openChannel) {
    await walkIntoWriter(job, target, start, ctx);
    return undefined;
  }
  return walkIntoSpool(job, start, ctx);
}

function windowOf(plan: DumpPlan, start: ChannelStart): TimeWindow {
  const window = plan.window;
  return {
    ...window,
    after: start.after ? { time: start.after.time, ids: new Set(start.after.ids) } : window.after,
    written: start.written && start.written.length > 0 ? new Set(start.written) : window.written,
  };
}

/** Everything that changes what an export fetches or writes: a checkpoint continues only the very same export. */
function exportKey(job: ChannelJob, ctx: WalkContext, window: TimeWindow): Record<string, unknown> {
  const { options, plan, profile, settings } = ctx;
  return {
    profile: profile.name,
    provider: profile.provider,
    api: plan.apiRoot,
    channel: job.target,
    since: options.since ?? null,
    until: options.until ?? null,
    after: window.after?.time ?? null,
    limit: plan.limit ?? null,
    order: plan.order,
    // the spool holds format-specific lines (spool-codec.ts)
    format: plan.format,
    excel: plan.excel,
    // and, with --media, references to local copies
    media: Boolean(plan.media),
    pageSize: plan.pageSize,
    raw: settings.raw,
    timezone: settings.timezone ?? null,
    // an edited definition walks differently (paging, fields): its checkpoint is not this export's
    definition: definitionDigest(ctx.provider),
    // page positions carry the page size they were counted in since format 2; an older one's are not trusted
    positions: POSITIONS_FORMAT,
  };
}

const POSITIONS_FORMAT = 2;

const KEY_NAMES: Record<string, string> = {
  profile: 'profile',
  provider: 'provider',
  api: 'API root',
  definition: 'provider definition',
  channel: 'channel',
  since: '--since',
  until: '--until',
  after: 'incremental watermark',
  limit: '--limit',
  order: '--order',
  format: '--format',
  pageSize: '--page-size',
  raw: '--raw',
  timezone: '--timezone',
  excel: '--excel',
};

/** "--page-size 10 → 50, --raw false → true": what makes a checkpoint another export's. */
function describeKeyChange(saved: string, current: Record<string, unknown>): string {
  let old: Record<string, unknown>;
  try {
    old = JSON.parse(saved) as Record<string, unknown>;
  } catch {
    return 'an older version of chat-export';
  }
  if (old.positions !== POSITIONS_FORMAT) return 'an older version of chat-export';
  const changes: string[] = [];
  for (const [name, value] of Object.entries(current)) {
    const before = JSON.stringify(old[name] ?? null);
    const after = JSON.stringify(value ?? null);
    if (before !== after) changes.push(`${KEY_NAMES[name] ?? name} ${before} → ${after}`);
  }
  return changes.length > 0 ? changes.join(', ') : 'an older version of chat-export';
}

/**
 * Why the spooled runs a checkpoint names cannot be resumed from, if they
 * cannot: each must still be there, whole (runs are not fsynced, so a power
 * loss can leave one short; resuming from it would drop its messages).
 */
async function unusableRun(runs: ReadonlyArray<{ path: string; bytes?: number | undefined }>): Promise<string | undefined> {
  for (const run of runs) {
    const info = await stat(run.path).catch(() => undefined);
    if (!info?.isFile()) return `the checkpoint's spooled messages (${run.path}) are gone`;
    if (run.bytes !== undefined && info.size !== run.bytes) {
      return `the checkpoint's spooled messages (${run.path}) are ${info.size < run.bytes ? 'cut short' : 'changed'} (${info.size} bytes, ${run.bytes} written)`;
    }
  }
  return undefined;
}

/** A thread's replies an earlier run's walk already cut (`known`) keep what is dated before the watermark. */
function windowFor(window: TimeWindow, batch: WalkBatch): TimeWindow {
  return batch.replies === 'known' ? { ...window, after: undefined } : window;
}

function startWalk(
  job: ChannelJob,
  ctx: WalkContext,
  window: TimeWindow,
  resumeFrom: WalkOptions['resumeFrom'],
  stats: WalkOptions['stats'],
  book?: ThreadBook,
): AsyncGenerator<WalkBatch> {
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
  if (ctx.provider.replies) {
    return walkWithThreads(ctx.provider, { options, book: book ?? new ThreadBook(undefined), after: window.after, passed: (oldest) => passedWindow(window, oldest), since: window.since });
  }
  switch (ctx.provider.paging) {
    case 'cursor':
      return walkCursor(ctx.provider, options);
    case 'pages':
      return walkPages(ctx.provider, options);
    case 'sequential':
      return walkSequential(ctx.provider, options);
  }
}

async function walkIntoWriter(job: ChannelJob, target: Target, first: ChannelStart, ctx: WalkContext): Promise<void> {
  const bar = ctx.progress.start(job.label, { totalIsExact: isWhole(ctx.plan, windowOf(ctx.plan, first)) && first.resumeFrom === undefined });
  const writer = await target.openChannel!(job, first);
  let kept = 0;
  // the archive's threads: what the last run into this archive walked (a missing book re-walks them: upserts)
  const book = ctx.provider.replies ? new ThreadBook(await readThreadBook(ctx.stateDir, job)) : undefined;
  try {
    // A target may ask for another walk once one ends (the archive: after completing a
    // killed run's walk, the new top down to what that walk established).
    for (let start: ChannelStart | undefined = first; start; start = writer.next?.()) {
      const window = windowOf(ctx.plan, start);
      for await (const batch of startWalk(job, ctx, window, start.resumeFrom, bar.stats, book)) {
        const keep = windowFor(window, batch);
        const entries = batch.entries.filter((entry) => inWindow(keep, entry.time, entry.message.id));
        // the messages as served: --media rewrites `entries` to name local copies
        const served = entries.map((entry) => entry.message);
        await job.media?.apply(entries);
        kept += entries.length;
        if (batch.missing) job.missing.push(...batch.missing);
        await writer.batch({ ...batch, entries }, served);
        bar.update(batch, kept);
        if (passedWindow(window, batch.oldest)) break;
      }
      // an interrupted walk has not reached its end: it must not be finished as if it had
      if (ctx.signal?.aborted) throw new InterruptedError(`${job.label}: interrupted`);
      kept = await writer.finish();
    }
    // after every page is committed: a book ahead of the archive would skip replies it never got
    if (book && book.changed > 0) await writeThreadBook(ctx.stateDir, job, book);
    bar.finish(kept);
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
  const keyFields = exportKey(job, ctx, window);
  const key = JSON.stringify(keyFields);
  let resumed = options.resume ? await readCheckpoint(checkpoints) : undefined;
  if (options.resume) {
    if (!resumed) {
      logger.warn(`${job.label}: no checkpoint to resume; starting from the beginning`);
    } else if (resumed.key !== key) {
      logger.warn(`${job.label}: the checkpoint is of another export (${describeKeyChange(resumed.key, keyFields)}); starting from the beginning`);
      resumed = undefined;
    } else {
      const unusable = await unusableRun(resumed.runs);
      if (unusable !== undefined) {
        logger.warn(`${job.label}: ${unusable}; starting from the beginning`);
        resumed = undefined;
      }
    }
  }
  if (!resumed) await clearCheckpoint(checkpoints);
  if (resumed) {
    window = { ...window, since: resumed.since ?? undefined, until: resumed.until ?? undefined };
    logger.info(`${job.label}: resuming after ${resumed.kept} messages`);
  }
  const bar = ctx.progress.start(job.label, { totalIsExact: !resumed && isWhole(plan, window) });
  const codec = spoolCodecFor(plan.format, { excel: plan.excel });
  const spool = new Spool(join(checkpoints, 'spool'), plan.order, ctx.runSize, resumed?.runs ?? [], ctx.checkpointEveryMs, codec.keyOf);
  let kept = resumed?.kept ?? 0;
  let newest: ChannelDone['newest'] = resumed?.newest ?? undefined;
  const future = new Map<string, number>((resumed?.future ?? []).map((f) => [f.id, f.time]));
  if (resumed?.missing) job.missing.push(...resumed.missing);
  const shared = checkpoints === checkpointDir(ctx.stateDir, job.stateName);
  const futureList = () => [...future].map(([id, time]) => ({ id, time }));
  // What --resume needs to continue this very walk: the spilled runs, where the walk was, what was kept so far.
  const checkpointOf = (walk: WalkCheckpoint, complete: boolean): Checkpoint => ({
    version: 1,
    key,
    runs: [...spool.spilled],
    walk,
    ...(complete ? { complete: true } : {}),
    kept,
    newest: newest ?? null,
    future: futureList(),
    missing: job.missing,
    since: window.since ?? null,
    until: window.until ?? null,
  });
  let position = resumed?.walk;
  // --incremental: the threads the last run walked, recorded with its state
  const book = ctx.provider.replies ? new ThreadBook(job.state?.threads) : undefined;
  const confirm = start.confirm && start.after ? new Confirmation(start.after, start.confirm.output, job.label) : undefined;
  try {
    // A checkpoint of a walk that ended needs no walk: only its output was not written.
    const walk = resumed?.complete ? emptyWalk() : startWalk(job, ctx, window, resumed?.walk, bar.stats, book);
    for await (const batch of walk) {
      position = batch.checkpoint;
      confirm?.see(batch.entries);
      // --media: a stage between the walk and the spool, rewriting references to the local copies.
      const keep = windowFor(window, batch);
      const entries = batch.entries.filter((entry) => inWindow(keep, entry.time, entry.message.id));
      await job.media?.apply(entries);
      const farFuture = Date.now() + CLOCK_SKEW_MS;
      for (const entry of entries) {
        spool.add(entry.time, entry.message.id, codec.encode(entry.message));
        kept++;
        if (entry.time > farFuture) future.set(entry.message.id, entry.time);
        else if (!newest || entry.time > newest.time) newest = { time: entry.time, ids: [entry.message.id] };
        else if (entry.time === newest.time) newest.ids.push(entry.message.id);
      }
      if (batch.missing) job.missing.push(...batch.missing);
      bar.update(batch, kept);
      if (await spool.maybeFlush()) await saveCheckpoint(checkpoints, checkpointOf(batch.checkpoint, false));
      if (passedWindow(window, batch.oldest)) break;
      // served oldest first, the first N are the oldest: --limit (the newest N) must read on
      if (plan.limit !== undefined && kept >= plan.limit && ctx.provider.order === 'newest-first') break;
    }
    if (confirm && !confirm.proven) {
      await clearCheckpoint(checkpoints);
      throw confirm.refusal();
    }
    const result = await spool.finish();
    if (shared && spool.spilled.length > 0 && position) {
      // Kept until the output is committed: an interruption while writing must not lose the walk.
      await saveCheckpoint(checkpoints, checkpointOf(position, true));
    }
    // --limit keeps the newest N, wherever the order puts them.
    const take = plan.limit === undefined ? result.count : Math.min(plan.limit, result.count);
    const skip = plan.order === 'asc' ? result.count - take : 0;
    bar.finish(take);
    // With --limit the newest kept message is still the newest: the limit keeps the newest N.
    const shown = await narrowSpan(result, skip, take, codec.keyOf);
    return { job, spool, result: shown, skip, take, newest, future: futureList(), checkpoints, written: { bytes: 0 }, ...(book ? { threads: book } : {}) };
  } catch (caught) {
    const error = asLocalIoError(caught, { label: job.label });
    bar.fail();
    // Keep what is on disk for --resume; a walk that spilled nothing, or spooled
    // privately beside a concurrent run, has nothing --resume could find.
    if (spool.spilled.length === 0 || !shared) await clearCheckpoint(checkpoints);
    else if (error instanceof ChatExportError && !(error instanceof UsageError)) {
      throw withHint(error, `run the same command with --resume to continue from the ${kept} messages already fetched`);
    }
    throw error;
  }
}

async function* emptyWalk(): AsyncGenerator<WalkBatch> {}

/**
 * --incremental after the provider definition was edited: the messages the
 * last run wrote newest must come back with the same ids at the same time.
 * Then the edit reads ids and times as before (it changed text, a filter,
 * paging…) and appending is safe; otherwise the watermark means nothing now
 * (an epoch-ms time fixed to epoch-s moves every message) and appending would
 * write the history again.
 */
class Confirmation {
  proven = false;
  private other: { id: string; time: number } | undefined;
  private readonly ids: Set<string>;

  constructor(
    private readonly newest: { time: number; ids: string[] },
    private readonly output: string,
    private readonly label: string,
  ) {
    this.ids = new Set(newest.ids);
  }

  see(entries: readonly { time: number; message: { id: string } }[]): void {
    if (this.proven) return;
    for (const entry of entries) {
      if (!this.ids.has(entry.message.id)) continue;
      if (entry.time === this.newest.time) this.proven = true;
      else this.other ??= { id: entry.message.id, time: entry.time };
    }
  }

  refusal(): UsageError {
    const when = new Date(this.newest.time).toISOString();
    const found = this.other
      ? `came back dated ${new Date(this.other.time).toISOString()} (written as ${when})`
      : `(id ${[...this.ids][0]}, ${when}) did not come back`;
    return new UsageError(
      `${this.label}: the provider definition changed since the last incremental run wrote ${this.output}, and the newest message it wrote ${found}: ids or times are read differently now, and appending would write messages again; nothing was written`,
      { hint: `export into a new file (another -o: a full export under the new definition), or restore the previous definition to continue ${this.output}` },
    );
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
