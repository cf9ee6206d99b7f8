/**
 * Which walks a run makes of one channel into the archive, and what each
 * page and each finished walk records. The rule that keeps the archive
 * without gaps: `held_until` (everything at or before it is held) moves only
 * when a walk reaches its floor. A walk killed midway leaves its position and
 * floor in `channels.walk`; the next run first completes that walk (from
 * where it stopped, down to the floor it was walking to), then walks the new
 * top down to the mark that walk established. The top pages a killed walk
 * fetched are never taken for "held".
 *
 * A walk of a newest-first API runs from the newest message down until a
 * page is older than its floor (or the history ends). An API served oldest
 * first (a definition's `"order": "oldest-first"`) gives no such early stop:
 * each walk reads the whole list, upserting, and its floor only filters.
 */
import type { Entry } from '../providers/types.js';
import type { Message } from '../message.js';
import { identityChange, type WalkIdentity } from '../walk/identity.js';
import type { WalkBatch, WalkCheckpoint } from '../walk/types.js';
import type { Archive, MediaRecord, PageCounts, SourceKey, UnfinishedWalk } from './store.js';

export interface ArchiveWalkOptions {
  /** --full: re-read the whole history */
  full: boolean;
  /** --lookback: also re-read this long before held_until (ms) */
  lookbackMs: number;
  /** --since / --until given: a windowed re-read that upserts but leaves the walk state alone */
  windowed: boolean;
  run: number;
  /** what a position of this run's walks means: an unfinished walk of another is not continued */
  identity: WalkIdentity;
}

/** What the walker is told before one walk. */
export interface WalkStart {
  /** stop once a page's oldest message is older than this (epoch ms); undefined = to the end */
  floor: number | undefined;
  resumeFrom: WalkCheckpoint | undefined;
  /** an unfinished walk is walked again from the top instead of continued, because of this ("--page-size 10 → 50") */
  restarted?: string | undefined;
}

export interface ChannelWalkReport extends PageCounts {
  walks: number;
  resumed: boolean;
}

/**
 * One channel of one run: hands out walks one after the other and commits
 * each page with the walk position. Used by the archive target; pure of I/O
 * other than the archive.
 */
export class ChannelWalks {
  private current: UnfinishedWalk | undefined;
  private resumedFirst = false;
  private walks = 0;
  private finished = false;
  readonly counts: PageCounts = { added: 0, changed: 0, seen: 0 };

  constructor(
    private readonly archive: Archive,
    private readonly key: SourceKey,
    private readonly kind: string,
    private readonly options: ArchiveWalkOptions,
  ) {}

  /** The first walk of the channel in this run. */
  first(): WalkStart {
    const record = this.archive.channel(this.key);
    if (this.options.windowed) {
      this.current = undefined;
      this.walks++;
      return { floor: undefined, resumeFrom: undefined };
    }
    const now = Date.now();
    // A position counted under another page size, definition, order or window points elsewhere now:
    // continued, it would skip what lies between (and no later run would fetch it).
    const changed = !this.options.full && record?.walk ? identityChange(record.walk.identity, this.options.identity) : undefined;
    if (!this.options.full && record?.walk && changed === undefined && record.walk.attempts < MAX_RESUMES) {
      // finish the killed walk first: from its position down to its floor
      this.resumedFirst = true;
      this.current = { ...record.walk, run: this.options.run, attempts: record.walk.attempts + 1 };
      // recorded now, so a position the server can no longer continue from is given up after a few runs
      this.archive.setWalk(this.key, this.kind, this.current);
      this.walks++;
      return { floor: this.current.floor ?? undefined, resumeFrom: this.current.checkpoint ?? undefined };
    }
    // A walk that could not be continued is walked again from the top, down to the floor it had:
    // that covers its gap too. (An unreadable record leaves only held_until: below it nothing is missing.)
    const stuck = !this.options.full && record?.walk ? record.walk.floor : undefined;
    const usual = floorOf(record?.heldUntil ?? null, this.options.lookbackMs);
    const floor = this.options.full ? null : stuck === undefined ? usual : stuck === null || usual === null ? null : Math.min(stuck, usual);
    this.current = this.fresh(floor, now);
    this.walks++;
    return { floor: floor ?? undefined, resumeFrom: undefined, ...(changed !== undefined ? { restarted: changed } : {}) };
  }

  private fresh(floor: number | null, now: number): UnfinishedWalk {
    return { run: this.options.run, top: null, floor, checkpoint: null, startedAt: now, attempts: 0, identity: this.options.identity };
  }

  /**
   * One answer of the walker, committed with the position after it (and the
   * files --media downloaded for it). `served`: the entries' messages as the
   * server sent them, without --media's local references.
   */
  page(batch: WalkBatch, served: readonly Message[] = batch.entries.map((entry) => entry.message), media: readonly MediaRecord[] = []): void {
    const entries = batch.entries;
    const walk = this.current;
    if (walk) {
      for (const entry of entries) {
        // A message dated in the future must not become the mark: the next run would stop above
        // everything posted until then. The walk's own start bounds it.
        const time = Math.min(entry.time, walk.startedAt);
        if (walk.top === null || time > walk.top) {
          // a resumed walk keeps the top it started with: its messages above it were not all walked
          if (!(this.resumedFirst && this.walks === 1 && walk.top !== null)) walk.top = time;
        }
      }
      walk.checkpoint = batch.checkpoint;
    }
    const counts = this.archive.writePage(this.key, this.kind, served, walk ? { ...walk } : undefined, media);
    this.counts.added += counts.added;
    this.counts.changed += counts.changed;
    this.counts.seen += counts.seen;
  }

  /**
   * The walk ended where it should (its floor, or the start of the history).
   * Returns the next walk of this run, if any: after completing a killed
   * walk, the new top down to the mark it established.
   */
  complete(): WalkStart | undefined {
    const walk = this.current;
    if (!walk) {
      this.finished = true;
      return undefined;
    }
    this.archive.completeWalk(this.key, this.kind, this.options.run, walk.top);
    this.current = undefined;
    if (this.resumedFirst && this.walks === 1) {
      const record = this.archive.channel(this.key);
      const floor = floorOf(record?.heldUntil ?? null, this.options.lookbackMs);
      this.current = this.fresh(floor, Date.now());
      this.walks++;
      return { floor: floor ?? undefined, resumeFrom: undefined };
    }
    this.finished = true;
    return undefined;
  }

  report(): ChannelWalkReport {
    return { ...this.counts, walks: this.walks, resumed: this.resumedFirst };
  }

  get done(): boolean {
    return this.finished;
  }
}

/** Runs that may try to continue one unfinished walk before it is walked again from the top. */
const MAX_RESUMES = 3;

function floorOf(heldUntil: number | null, lookbackMs: number): number | null {
  return heldUntil === null ? null : heldUntil - lookbackMs;
}
