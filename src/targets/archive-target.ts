/**
 * `-o PATH.sqlite`: the archive as a dump target. It takes the walk's pages
 * as they arrive (no spool): each page's messages and the walk position
 * commit in one transaction. The archive keeps its own position per channel,
 * so a run is incremental by itself and an interrupted one continues where
 * it stopped (channel-walks.ts); --incremental and --resume are implied.
 */
import { normalizeApiRoot } from '../archive/api-root.js';
import { ChannelWalks, type WalkStart } from '../archive/channel-walks.js';
import { Archive, type SourceKey } from '../archive/store.js';
import type { DumpPlan } from '../dump/types.js';
import type { Logger } from '../log.js';
import type { ChannelTarget } from '../providers/types.js';
import type { WalkBatch, WalkCheckpoint } from '../walk/types.js';
import type { TargetContext } from './context.js';
import type { Target } from './types.js';

export interface ArchiveTargetOptions {
  path: string;
  provider: string;
  baseUrl: string;
  full: boolean;
  lookbackMs: number;
  /** --since / --until: re-read a window, leave the walk state alone */
  windowed: boolean;
  /** the command line, recorded in the runs table (without secrets) */
  command: string;
  logger: Logger;
}

/** What the walk is told before each walk of a channel. */
export interface ArchiveChannelStart {
  /** keep and walk only messages at or after this time (the walk's floor) */
  after?: { time: number; ids: string[] } | undefined;
  resumeFrom?: WalkCheckpoint | undefined;
}

export interface ArchiveChannelWriter {
  batch(batch: WalkBatch): Promise<void>;
  /** this walk reached its end; returns the messages written so far */
  finish(): Promise<number>;
  /** after finish: the next walk of this channel in this run, if any */
  next(): ArchiveChannelStart | undefined;
  abort(error: unknown): Promise<void>;
}

function startOf(walk: WalkStart): ArchiveChannelStart {
  return { after: walk.floor === undefined ? undefined : { time: walk.floor, ids: [] }, resumeFrom: walk.resumeFrom };
}

export class ArchiveTarget {
  readonly archive: Archive;
  private readonly run: number;
  private readonly api: string;
  private readonly channels = new Map<string, ChannelWalks>();
  private readonly totals = { added: 0, changed: 0, seen: 0 };

  /** Opens (creating if needed) the archive: called while planning, before any request. */
  constructor(private readonly options: ArchiveTargetOptions) {
    this.archive = Archive.open(options.path, { create: true });
    this.api = normalizeApiRoot(options.baseUrl);
    this.run = this.archive.startRun(options.command, { provider: options.provider, api: this.api });
  }

  private keyOf(target: ChannelTarget): SourceKey {
    return { provider: this.options.provider, api: this.api, channel: target.id };
  }

  /** The first walk of a channel: the unfinished one, or the new top down to what is held (minus --lookback). */
  prepare(target: ChannelTarget): ArchiveChannelStart {
    const walks = new ChannelWalks(this.archive, this.keyOf(target), target.kind, {
      full: this.options.full,
      lookbackMs: this.options.lookbackMs,
      windowed: this.options.windowed,
      run: this.run,
    });
    this.channels.set(`${target.kind}\u0000${target.id}`, walks);
    const first = walks.first();
    if (first.resumeFrom) this.options.logger.info(`${this.options.provider} ${target.kind} ${target.id}: completing the walk an earlier run left unfinished`);
    return startOf(first);
  }

  openChannel(target: ChannelTarget): ArchiveChannelWriter {
    const walks = this.channels.get(`${target.kind}\u0000${target.id}`);
    if (!walks) throw new Error(`archive: channel ${target.id} was not prepared`);
    let next: ArchiveChannelStart | undefined;
    return {
      batch: async (batch) => {
        walks.page(batch);
      },
      finish: async () => {
        const following = walks.complete();
        next = following ? startOf(following) : undefined;
        if (!following) this.count(target, walks);
        return walks.counts.seen;
      },
      next: () => next,
      abort: async () => {
        this.count(target, walks);
      },
    };
  }

  private count(target: ChannelTarget, walks: ChannelWalks): void {
    const report = walks.report();
    this.totals.added += report.added;
    this.totals.changed += report.changed;
    this.totals.seen += report.seen;
    this.options.logger.debug(
      `${this.options.provider} ${target.kind} ${target.id}: ${report.added} new, ${report.changed} changed, ${report.seen} read into ${this.options.path}`,
    );
  }

  close(outcome: { failed: boolean; interrupted: boolean }): void {
    try {
      this.archive.finishRun(this.run, outcome.interrupted ? 'interrupted' : outcome.failed ? 'failed' : 'ok', this.totals);
    } finally {
      this.archive.close();
    }
  }
}

/** The archive as the run's one Target: batches in, no spool, nothing to deliver. */
export function createArchiveTarget(ctx: TargetContext, archive: NonNullable<DumpPlan['archive']>): Target {
  const target = new ArchiveTarget({
    path: archive.path,
    provider: ctx.profile.provider,
    baseUrl: ctx.plan.baseUrl,
    full: archive.full,
    lookbackMs: archive.lookbackMs,
    windowed: ctx.plan.window.since !== undefined || ctx.plan.window.until !== undefined,
    command: `dump --provider ${ctx.profile.name} ${ctx.plan.targets.map((t) => `--${t.kind} ${t.id}`).join(' ')}`,
    logger: ctx.logger,
  });
  let failed = false;
  return {
    ordered: false,
    prepare: async (job) => target.prepare(job.target),
    openChannel: async (job) => {
      const writer = target.openChannel(job.target);
      return {
        ...writer,
        abort: async (error) => {
          failed = true;
          await writer.abort(error);
        },
      };
    },
    deliver: async () => {
      throw new Error('the archive takes pages as they come; it has nothing delivered');
    },
    close: async ({ interrupted }) => target.close({ failed, interrupted }),
  };
}
