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
import { RefusedAddressError, type AddressGuard } from '../http/address-guard.js';
import { HostBreaker } from '../http/host-breaker.js';
import type { Logger } from '../log.js';
import type { Attachment, Message } from '../message.js';
import type { Entry } from '../providers/types.js';
import { imageMessageUrl } from '../sinks/html.js';
import { redactUrl, sanitizeForTerminal } from '../text/sanitize.js';
import { MediaStore, extensionFor } from './store.js';

export interface MediaStats {
  /** files fetched by this run */
  downloaded: number;
  /** files already in the store (each counted once, however many references it serves) */
  reused: number;
  failed: number;
  /** URLs not fetched because of where they point (link-local, private): not failures, not tried again */
  refused: number;
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
  /** which addresses a download may reach (none: any) */
  guard?: AddressGuard | undefined;
  maxBytes: number;
  logger: Logger;
  signal?: AbortSignal | undefined;
  /** downloads in flight at once, all channels together */
  concurrency?: number;
  /** hosts given up for the run (default: a new one, saying so on stderr) */
  hosts?: HostBreaker | undefined;
}

type FetchOutcome = { path: string; downloaded: boolean } | { error: string; refused?: boolean };

/** One channel's use of the stage: its output's directory, its counters and failures. */
export interface ChannelMedia {
  readonly stats: MediaStats;
  readonly failures: MediaFailure[];
  /** rewrites the entries' messages in place, downloading what they reference */
  apply(entries: Entry[]): Promise<void>;
}

export class MediaStage {
  private readonly counted = new Set<string>();
  private readonly inFlight = new Map<string, Promise<FetchOutcome>>();
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  readonly totals: MediaStats = { downloaded: 0, reused: 0, failed: 0, refused: 0 };
  /** URLs refused for their address, with why (named once at the end) */
  readonly refusals = new Map<string, string>();
  readonly hosts: HostBreaker;

  constructor(private readonly options: MediaStageOptions) {
    this.hosts =
      options.hosts ??
      new HostBreaker((down) => options.logger.info(`media: ${down.host} is unreachable (${down.reason}); its other files are not tried in this run`));
  }

  /** `output`: the file the channel is written to (undefined: stdout, paths relative to the working directory). */
  forChannel(output: string | undefined, label: string): ChannelMedia {
    const base = output === undefined ? process.cwd() : dirname(output);
    const stats: MediaStats = { downloaded: 0, reused: 0, failed: 0, refused: 0 };
    const failures: MediaFailure[] = [];
    // Each URL and each file counts once per channel, however many messages refer to it.
    const seenUrls = new Set<string>();
    const seenFiles = new Set<string>();
    const local = async (url: string | null | undefined, name: string | null | undefined): Promise<string | undefined> => {
      if (!url || !isHttpUrl(url)) return undefined;
      const outcome = await this.fetch(url, name, label);
      const first = !seenUrls.has(url);
      seenUrls.add(url);
      if ('error' in outcome) {
        if (first && outcome.refused) {
          stats.refused++;
          this.totals.refused++;
        } else if (first) {
          failures.push({ url, reason: outcome.error });
          stats.failed++;
          this.totals.failed++;
        }
        return undefined;
      }
      // Several references may share one download: only the first counts it; a file already there counts once.
      if (outcome.downloaded && !this.counted.has(url)) {
        this.counted.add(url);
        seenFiles.add(outcome.path);
        stats.downloaded++;
        this.totals.downloaded++;
      } else if (!seenFiles.has(outcome.path)) {
        seenFiles.add(outcome.path);
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
        if (!('error' in outcome)) fetched += outcome.downloaded ? 1 : 0;
        else if (!outcome.refused) failures.push({ url, reason: outcome.error });
      }),
    );
    return { fetched, failures };
  }

  async close(): Promise<void> {
    await this.options.store.flush();
  }

  private fetch(url: string, name: string | null | undefined, label: string): Promise<FetchOutcome> {
    let pending = this.inFlight.get(url);
    if (!pending) {
      pending = this.fetchOnce(url, name, label);
      this.inFlight.set(url, pending);
    }
    return pending;
  }

  private async fetchOnce(url: string, name: string | null | undefined, label: string): Promise<FetchOutcome> {
    const { store, http } = this.options;
    const known = await store.lookup(url);
    if (known) return { path: known, downloaded: false };
    // A host given up earlier: no need to wait for a download slot to fail.
    const skipped = this.hosts.skip(new URL(url).host);
    if (skipped) {
      store.recordFailure(url, skipped);
      return { error: skipped };
    }
    await this.slot();
    try {
      const path = await http.download(
        new URL(url),
        {
          ctx: { label: `${label} media`, signal: this.options.signal },
          maxBytes: this.options.maxBytes,
          credentials: this.options.credentials,
          credentialOrigin: this.options.credentialOrigin,
          guard: this.options.guard,
          hosts: this.hosts,
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
      if (error instanceof RefusedAddressError) {
        // Where it points will not change: not a failure to try again, said once at the end.
        const reason = sanitizeForTerminal(error.message.replace(`${label} media: `, ''));
        this.refusals.set(url, reason);
        store.forgetFailure(url);
        this.options.logger.debug(`media ${redactUrl(url)}: refused: ${reason}`);
        return { error: reason, refused: true };
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
