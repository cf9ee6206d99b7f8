/**
 * --media as a pipeline stage between the walk and the target: each message's
 * attachments, image-message picture and sender avatar are downloaded into
 * the media store, and the message is rewritten to name the local copies
 * (`attachments[].file`, `sender.avatarFile`, paths relative to the output
 * file), so every sink after it just renders what it is given.
 *
 * A download that fails leaves the message exported as it was, is counted
 * for its channel (the run then exits 5) and is remembered in the media index,
 * so the next run tries it again.
 */
import { isHttpUrl } from '../text/http-url.js';
import { dirname } from 'node:path';
import { ChatExportError } from '../errors.js';
import type { HttpClient } from '../http/client.js';
import type { Logger } from '../log.js';
import type { Attachment, Message } from '../message.js';
import type { Entry } from '../providers/types.js';
import { imageMessageUrl } from '../sinks/html.js';
import { redactUrl, sanitizeForTerminal } from '../text/sanitize.js';
import { MediaStore, extensionFor } from './store.js';

export interface MediaStats {
  /** files fetched by this run */
  downloaded: number;
  /** references served by a file already in the store */
  reused: number;
  failed: number;
}

export interface MediaFailure {
  url: string;
  reason: string;
}

export interface MediaStageOptions {
  store: MediaStore;
  http: HttpClient;
  /** the API's credential headers and origin: sent there only */
  credentials: Record<string, string>;
  credentialOrigin: string | undefined;
  maxBytes: number;
  logger: Logger;
  signal?: AbortSignal | undefined;
  /** downloads in flight at once, all channels together */
  concurrency?: number;
}

/** One channel's use of the stage: its output's directory, its counters and failures. */
export interface ChannelMedia {
  readonly stats: MediaStats;
  readonly failures: MediaFailure[];
  /** rewrites the entries' messages in place, downloading what they reference */
  apply(entries: Entry[]): Promise<void>;
}

export class MediaStage {
  private readonly counted = new Set<string>();
  private readonly inFlight = new Map<string, Promise<{ path: string; downloaded: boolean } | { error: string }>>();
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  readonly totals: MediaStats = { downloaded: 0, reused: 0, failed: 0 };

  constructor(private readonly options: MediaStageOptions) {}

  /** `output`: the file the channel is written to (undefined: stdout, paths relative to the working directory). */
  forChannel(output: string | undefined, label: string): ChannelMedia {
    const base = output === undefined ? process.cwd() : dirname(output);
    const stats: MediaStats = { downloaded: 0, reused: 0, failed: 0 };
    const failures: MediaFailure[] = [];
    const failedUrls = new Set<string>();
    const local = async (url: string | null | undefined, name: string | null | undefined): Promise<string | undefined> => {
      if (!url || !isHttpUrl(url)) return undefined;
      const outcome = await this.fetch(url, name, label);
      if ('error' in outcome) {
        if (!failedUrls.has(url)) {
          failedUrls.add(url);
          failures.push({ url, reason: outcome.error });
          stats.failed++;
          this.totals.failed++;
        }
        return undefined;
      }
      // Several references may share one download: only the first counts it.
      if (outcome.downloaded && !this.counted.has(url)) {
        this.counted.add(url);
        stats.downloaded++;
        this.totals.downloaded++;
      } else {
        stats.reused++;
        this.totals.reused++;
      }
      return this.options.store.relativeTo(base, outcome.path);
    };
    const rewrite = (message: Message) => withLocalCopies(message, local);
    return {
      stats,
      failures,
      apply: async (entries) => {
        await Promise.all(
          entries.map(async (entry) => {
            entry.message = await rewrite(entry.message);
          }),
        );
      },
    };
  }

  /** Tries again what earlier runs could not download (kept in the media index). */
  async retryEarlierFailures(label: string): Promise<{ fetched: number; failures: MediaFailure[] }> {
    const failures: MediaFailure[] = [];
    let fetched = 0;
    await Promise.all(
      this.options.store.failedUrls().filter((url) => !this.inFlight.has(url)).map(async (url) => {
        const outcome = await this.fetch(url, null, label);
        if ('error' in outcome) failures.push({ url, reason: outcome.error });
        else if (outcome.downloaded) fetched++;
      }),
    );
    return { fetched, failures };
  }

  async close(): Promise<void> {
    await this.options.store.flush();
  }

  private fetch(url: string, name: string | null | undefined, label: string): Promise<{ path: string; downloaded: boolean } | { error: string }> {
    let pending = this.inFlight.get(url);
    if (!pending) {
      pending = this.fetchOnce(url, name, label);
      this.inFlight.set(url, pending);
    }
    return pending;
  }

  private async fetchOnce(url: string, name: string | null | undefined, label: string): Promise<{ path: string; downloaded: boolean } | { error: string }> {
    const { store, http } = this.options;
    const known = await store.lookup(url);
    if (known) return { path: known, downloaded: false };
    await this.slot();
    try {
      const path = await http.download(
        new URL(url),
        {
          ctx: { label: `${label} media`, signal: this.options.signal },
          maxBytes: this.options.maxBytes,
          credentials: this.options.credentials,
          credentialOrigin: this.options.credentialOrigin,
        },
        (body, info) => store.save(url, body, extensionFor(info.url, name, info.contentType)),
      );
      return { path, downloaded: true };
    } catch (error) {
      if (this.options.signal?.aborted) throw error;
      // The media directory itself failing is the run's problem (exit 6), not one file's.
      if (error instanceof ChatExportError && error.exitCode === 6) {
        if (!error.message.startsWith(`${label}: `)) error.message = `${label}: ${error.message}`;
        throw error;
      }
      // "HTTP 404", "over the … size cap": the URL is named beside it already.
      const shown = redactUrl(url);
      const message = error instanceof Error ? error.message : String(error);
      const reason = sanitizeForTerminal(
        message.replace(`${label} media: `, '').replace(` from ${shown}`, '').replace(` on ${shown}`, '').replace(`${shown} `, '').replace(/ \(gave up after .*\)$/, ''),
      );
      store.recordFailure(url, reason);
      this.options.logger.debug(`media ${redactUrl(url)}: ${reason}`);
      return { error: reason };
    } finally {
      this.release();
    }
  }

  private async slot(): Promise<void> {
    if (this.active < (this.options.concurrency ?? 4)) {
      this.active++;
      return;
    }
    // The slot is handed over by release(), never re-counted.
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}

/** "3 media files could not be downloaded: URL (HTTP 404); …" for stderr. */
export function describeMediaFailures(label: string, failures: MediaFailure[]): string {
  const shown = failures.slice(0, 3).map((f) => `${redactUrl(f.url)} (${f.reason})`);
  const more = failures.length > 3 ? `; and ${failures.length - 3} more` : '';
  const noun = failures.length === 1 ? 'media file' : 'media files';
  return `${label}: ${failures.length} ${noun} could not be downloaded: ${shown.join('; ')}${more}`;
}

/**
 * The message naming local copies (`sender.avatarFile`, `attachments[].file`;
 * an image message's picture becomes an attachment with its copy), for the
 * references `local` resolves; the message itself when it resolves none.
 * Shared by the media stage (which downloads) and `convert` (which reads an
 * archive's media table), so both write the same references.
 */
export async function withLocalCopies(
  message: Message,
  local: (url: string | null | undefined, name: string | null | undefined) => Promise<string | undefined>,
): Promise<Message> {
  const attachments: Attachment[] = [...message.attachments];
  const picture = imageMessageUrl(message);
  // An image message's picture becomes an attachment, so JSONL can say where its copy is.
  if (picture !== undefined && !attachments.some((a) => a.url === picture)) attachments.push({ url: picture, name: null, type: 'image' });
  const [avatarFile, ...files] = await Promise.all([
    local(message.sender.avatar, null),
    ...attachments.map((attachment) => local(attachment.url, attachment.name)),
  ]);
  // The picture added above stays only when it was downloaded (else the message is as without --media).
  if (attachments.length > message.attachments.length && files.at(-1) === undefined) {
    attachments.pop();
    files.pop();
  }
  const changed = avatarFile !== undefined || files.some((file) => file !== undefined);
  if (!changed) return message;
  // Spreading keeps every key where it was (`raw` stays last).
  return {
    ...message,
    sender: avatarFile === undefined ? message.sender : { ...message.sender, avatarFile },
    attachments: attachments.map((attachment, k) => (files[k] === undefined ? attachment : { ...attachment, file: files[k]! })),
  };
}
