import type { HttpClient } from '../http/client.js';
import type { Logger } from '../log.js';
import type { Entry, ChannelTarget, ProviderSettings, SequentialPosition } from '../providers/types.js';
import type { ThreadRef } from '../providers/replies.js';

/** What a walker hands on after each answer. */
export interface WalkBatch {
  /** messages not seen before in this walk, in served order */
  entries: Entry[];
  /** oldest time in the answer (duplicates included); undefined for an empty answer */
  oldest: number | undefined;
  /** page number (page walks) or request number (cursor walks) */
  page: number;
  /** total messages in the list, when the API says */
  total: number | undefined;
  /** a checkpoint after this batch: feeding it back continues the walk after it */
  checkpoint: WalkCheckpoint;
  /**
   * Messages known to be missing from this walk (pages the server withheld, a
   * tie beyond the page cap, a message with an impossible value): the channel
   * is still written, and the run exits 5 naming each cause.
   */
  missing?: MissingReport[] | undefined;
  /**
   * A thread's replies (./threads.ts). `known`: a thread an earlier run walked, already cut to what is newer
   * than that walk's newest reply — kept even when dated before the watermark (posted while that run ran).
   */
  replies?: 'known' | 'new' | undefined;
}

/**
 * One known cause of loss: `reason` names the ids or pages (sanitized), `count`
 * the messages (1 for one message; 0 when some are at risk but how many is unknown).
 */
export interface MissingReport {
  reason: string;
  count: number;
}

export type PlainCheckpoint =
  | { kind: 'cursor'; maxCreateAt: number; boundaryIds: string[] }
  /**
   * `perPage`: the page size the page numbers were counted in (a server that silently caps pages counts them in its
   * cap, not in the size asked); missing in a checkpoint an earlier version wrote
   */
  | { kind: 'pages'; nextPage: number; total?: number | undefined; lastIds: string[]; perPage?: number | undefined }
  | { kind: 'sequential'; position: SequentialPosition; lastIds: string[] };

/** A walk with threads (./threads.ts): the history's position, the parents of its page still to walk, the position in the first. */
export type WalkCheckpoint =
  | PlainCheckpoint
  | { kind: 'threads'; main: PlainCheckpoint | null; pending: ThreadRef[]; inner: PlainCheckpoint | null; broadcast: string[]; sweeping: boolean };

export interface WalkOptions {
  http: HttpClient;
  settings: ProviderSettings;
  target: ChannelTarget;
  pageSize: number;
  /** pages in flight at once (page walks) */
  concurrency: number;
  /** exclusive upper bound on message time (--until), epoch ms */
  until: number | undefined;
  logger: Logger;
  /** "relation 4f32…" for messages */
  label: string;
  signal?: AbortSignal | undefined;
  /** requests and retries of this walk */
  stats?: { requests: number; retries: number } | undefined;
  /** continue from here (--resume) */
  resumeFrom?: WalkCheckpoint | undefined;
}

export type { HttpClient, Logger };
