/**
 * Where a dump's messages go. `runDump` picks exactly one Target from the plan
 * (targets/choose.ts) and hands it every channel; the target owns all of its
 * promises (atomic rename, append + state + fingerprint, transactions…), so
 * `runDump` never branches on the kind of output.
 *
 * How a new target plugs in:
 * 1. implement `Target` in src/targets/<name>-target.ts;
 * 2. either take finished channels (`deliver`: the walk went into a sorted,
 *    checkpointed spool and `done.result` streams it back in output order), or
 *    set `openChannel` to consume the walk's batches as they arrive (no spool:
 *    the target keeps its own position, e.g. the SQLite archive commits each
 *    page and the walk position in one transaction);
 * 3. add a case to `chooseTarget` (targets/choose.ts).
 */
import type { ChannelDone, ChannelJob } from '../run/types.js';
import type { Message } from '../message.js';
import type { ListedChannel } from '../providers/types.js';
import type { Person } from '../providers/people.js';
import type { WalkBatch, WalkCheckpoint } from '../walk/types.js';

export interface Target {
  /**
   * True when every channel shares one output (stdout, one file): `deliver`
   * is then called in channel order, one at a time.
   */
  readonly ordered: boolean;
  /**
   * True when `deliver` only holds the channel and `close` writes it (one
   * partitioned file for every channel): its summary line waits for `close`,
   * so a full disk there never follows a line saying it was written.
   */
  readonly writesAtClose?: boolean;
  /**
   * Before a channel is walked: load what the target knows of it (e.g. the
   * newest message already written, so the walk only keeps newer ones).
   */
  prepare?(job: ChannelJob): Promise<ChannelStart>;
  /**
   * Targets that consume walk batches directly return a writer here; the
   * walk then bypasses the spool and `deliver` is not called for the channel.
   */
  openChannel?(job: ChannelJob, start: ChannelStart): Promise<ChannelWriter>;
  /** A finished, spooled channel. Must dispose of `done.spool` and clear `done.checkpoints` once written. */
  deliver(done: ChannelDone): Promise<void>;
  /** What an upsert did to a channel (the archive): new, changed and read messages, for its summary line. */
  countsOf?(job: ChannelJob): { added: number; changed: number; read: number } | undefined;
  /** The run's people directory (a definition's `people`), before any channel: the archive keeps it. */
  people?(people: readonly Person[]): Promise<void>;
  /**
   * `--all-channels`: what the channel list said, kept (the archive's `channels` table); returns the channels
   * earlier lists named that this one does not. A target without it leaves that to the state directory.
   */
  recordChannels?(listed: readonly ListedChannel[]): Promise<Array<{ id: string; name: string | null }>>;
  /** After every channel ended: commit or abort anything shared. */
  close(outcome: { succeeded: number; interrupted: boolean }): Promise<void>;
}

/** What a target tells the walk before it starts. */
export interface ChannelStart {
  /** keep only messages after this one (newest already written) */
  after?: { time: number; ids: string[] } | undefined;
  /** ids already written that are newer than `after` (dated in the future): not to be written again */
  written?: string[] | undefined;
  /** continue the walk from here (targets keeping their own position) */
  resumeFrom?: WalkCheckpoint | undefined;
  /**
   * --incremental after the provider definition changed: the newest messages written (`after`) must come back with
   * the same ids at the same time, else ids or times are read differently now and appending would write messages
   * again; the run then stops with exit 2 before writing anything
   */
  confirm?: { output: string } | undefined;
}

/** A channel being written batch by batch (see `Target.openChannel`). */
export interface ChannelWriter {
  /**
   * entries already filtered by the run's window; `batch.checkpoint` is the walk position after it.
   * With --media the entries name local copies; `served` are the same messages as the server sent them.
   */
  batch(batch: WalkBatch, served: readonly Message[]): Promise<void>;
  /** the walk ended normally; returns the number of messages written */
  finish(): Promise<number>;
  /** after `finish`: another walk of the same channel to make, if the target needs one */
  next?(): ChannelStart | undefined;
  /** the walk failed or was interrupted */
  abort(error: unknown): Promise<void>;
}
