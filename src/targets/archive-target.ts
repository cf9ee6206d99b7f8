/**
 * `-o PATH.sqlite`: the archive as a dump target. It takes the walk's pages
 * as they arrive (no spool): each page's messages and the walk position
 * commit in one transaction. The archive keeps its own position per channel,
 * so a run is incremental by itself and an interrupted one continues where
 * it stopped (channel-walks.ts); --incremental and --resume are implied.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { normalizeApiRoot } from '../archive/api-root.js';
import { messagesMissingMedia } from '../archive/read.js';
import { ChannelWalks, type WalkStart } from '../archive/channel-walks.js';
import { Archive, type MediaRecord, type SourceKey } from '../archive/store.js';
import type { DumpPlan } from '../run/types.js';
import type { Logger } from '../log.js';
import type { ChannelMedia } from '../media/stage.js';
import type { Message } from '../message.js';
import type { ChannelTarget, Entry } from '../providers/types.js';
import { walkIdentity, type WalkIdentity } from '../walk/identity.js';
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
  /** what a stored walk position of this run means (page size, definition, order, window) */
  identity: WalkIdentity;
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
  batch(batch: WalkBatch, served?: readonly Message[]): Promise<void>;
  /** this walk reached its end; returns the messages written so far */
  finish(): Promise<number>;
  /** after finish: the next walk of this channel in this run, if any */
  next(): ArchiveChannelStart | undefined;
  abort(error: unknown): Promise<void>;
}

function startOf(walk: WalkStart): ArchiveChannelStart {
  return { after: walk.floor === undefined ? undefined : { time: walk.floor, ids: [] }, resumeFrom: walk.resumeFrom };
}

/** Messages read at a time when --media fetches what an archive's earlier messages refer to. */
const MISSING_MEDIA_PAGE = 500;

export class ArchiveTarget {
  readonly archive: Archive;
  private readonly run: number;
  private readonly api: string;
  private readonly channels = new Map<string, ChannelWalks>();
  private readonly totals = { added: 0, changed: 0, seen: 0 };
  /** what each channel's walks did, for its summary line */
  private readonly reports = new Map<string, { added: number; changed: number; read: number }>();
  /** URLs whose file this run has recorded (or found recorded) */
  private readonly mediaRecorded = new Set<string>();

  /** Opens (creating if needed) the archive: called while planning, before any request. */
  constructor(private readonly options: ArchiveTargetOptions) {
    this.archive = Archive.open(options.path, { create: true });
    if (this.archive.indexRebuilt) options.logger.info(`${options.path}: its full-text index was missing; made it again from the messages`);
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
      identity: this.options.identity,
    });
    this.channels.set(`${target.kind}\u0000${target.id}`, walks);
    const first = walks.first();
    const label = `${this.options.provider} ${target.kind} ${target.id}`;
    if (first.resumeFrom) this.options.logger.info(`${label}: completing the walk an earlier run left unfinished`);
    if (first.restarted !== undefined) {
      this.options.logger.info(
        `${label}: the walk an earlier run left unfinished is not continued (${first.restarted}: its position would point elsewhere); walked again from the newest message`,
      );
    }
    return startOf(first);
  }

  /** `media`: the channel's use of the --media stage, whose downloads the archive records. */
  openChannel(target: ChannelTarget, media?: ChannelMedia): ArchiveChannelWriter {
    const walks = this.channels.get(`${target.kind}\u0000${target.id}`);
    if (!walks) throw new Error(`archive: channel ${target.id} was not prepared`);
    let next: ArchiveChannelStart | undefined;
    const failuresOf = () => {
      if (media) this.archive.recordMediaFailures(media.failures.filter((failure) => !this.mediaRecorded.has(failure.url)));
    };
    return {
      batch: async (batch, served) => {
        // without --media no message names a local file: nothing to record, no need to look
        walks.page(batch, served, media ? await this.mediaOf(batch.entries) : []);
      },
      finish: async () => {
        const following = walks.complete();
        next = following ? startOf(following) : undefined;
        if (!following) {
          if (media) await this.fetchMissingMedia(target, media);
          failuresOf();
          this.count(target, walks);
        }
        return walks.counts.seen;
      },
      next: () => next,
      abort: async () => {
        failuresOf();
        this.count(target, walks);
      },
    };
  }

  /**
   * --media into an archive that already holds messages: the files they refer
   * to that it holds no copy of (an archive made without --media, a download
   * that failed) are fetched too, not only those of the messages this run
   * read. A page of such messages at a time, each page's files recorded
   * before the next is read.
   */
  private async fetchMissingMedia(target: ChannelTarget, media: ChannelMedia): Promise<void> {
    const key = this.keyOf(target);
    for (let after = 0; ; ) {
      const page = messagesMissingMedia(this.archive, key, after, MISSING_MEDIA_PAGE);
      if (page.last === undefined) return;
      after = page.last;
      const entries: Entry[] = page.messages.map((message) => ({ time: 0, message }));
      await media.apply(entries);
      this.archive.recordMedia(await this.mediaOf(entries));
      if (page.messages.length < MISSING_MEDIA_PAGE) return;
    }
  }

  /**
   * The files --media put beside the archive for these messages (their
   * `attachments[].file` and `sender.avatarFile`), each URL once per run,
   * hashed from the file itself when the archive does not know it yet.
   */
  private async mediaOf(entries: readonly Entry[]): Promise<MediaRecord[]> {
    const records: MediaRecord[] = [];
    for (const { message } of entries) {
      const pairs: Array<[string | null, string | undefined]> = [
        [message.sender.avatar, message.sender.avatarFile],
        ...message.attachments.map((a): [string, string | undefined] => [a.url, a.file]),
      ];
      for (const [url, file] of pairs) {
        if (!url || file === undefined || this.mediaRecorded.has(url)) continue;
        this.mediaRecorded.add(url);
        if (this.archive.mediaFile(url) === file) continue;
        records.push({ url, file, ...(await digestOf(resolve(dirname(this.options.path), file))) });
      }
    }
    return records;
  }

  private count(target: ChannelTarget, walks: ChannelWalks): void {
    const report = walks.report();
    this.reports.set(`${target.kind}\u0000${target.id}`, { added: report.added, changed: report.changed, read: report.seen });
    this.totals.added += report.added;
    this.totals.changed += report.changed;
    this.totals.seen += report.seen;
    this.options.logger.debug(
      `${this.options.provider} ${target.kind} ${target.id}: ${report.added} new, ${report.changed} changed, ${report.seen} read into ${this.options.path}`,
    );
  }

  countsOf(target: ChannelTarget): { added: number; changed: number; read: number } | undefined {
    return this.reports.get(`${target.kind}\u0000${target.id}`);
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
  if (!ctx.provider) throw new Error('archive target: the run has no provider');
  const target = new ArchiveTarget({
    path: archive.path,
    provider: ctx.profile.provider,
    baseUrl: ctx.plan.baseUrl,
    full: archive.full,
    lookbackMs: archive.lookbackMs,
    windowed: ctx.plan.window.since !== undefined || ctx.plan.window.until !== undefined,
    identity: walkIdentity(ctx.provider, ctx.plan.pageSize, ctx.plan.window),
    command: `dump --provider ${ctx.profile.name} ${ctx.plan.targets.map((t) => `--${t.kind} ${t.id}`).join(' ')}`,
    logger: ctx.logger,
  });
  let failed = false;
  return {
    ordered: false,
    prepare: async (job) => target.prepare(job.target),
    openChannel: async (job) => {
      const writer = target.openChannel(job.target, job.media);
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
    countsOf: (job) => target.countsOf(job.target),
    people: async (people) => target.archive.upsertPeople(ctx.profile.provider, normalizeApiRoot(ctx.plan.baseUrl), people),
    recordChannels: async (listed) => {
      const source = { provider: ctx.profile.provider, api: normalizeApiRoot(ctx.plan.baseUrl) };
      // read before recording: what earlier lists named that this one does not
      const gone = target.archive.channelsNotListed(source, new Set(listed.map((c) => c.id)));
      target.archive.recordChannels(source, listed);
      return gone;
    },
    close: async ({ interrupted }) => target.close({ failed, interrupted }),
  };
}

/** sha256 and size of a downloaded file; nulls when it cannot be read (the row still names the file). */
async function digestOf(path: string): Promise<{ sha256: string | null; size: number | null }> {
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of createReadStream(path)) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    return { sha256: hash.digest('hex'), size };
  } catch {
    return { sha256: null, size: null };
  }
}
