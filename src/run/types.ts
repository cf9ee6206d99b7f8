import type { Order, Spool, SpoolResult } from '../pipeline/order.js';
import type { ProfileFlags } from '../profile/resolve.js';
import type { TimeWindow } from '../pipeline/window.js';
import type { ChannelTarget } from '../providers/types.js';
import type { OutputPlan } from '../sinks/output-path.js';
import type { Format } from '../sinks/types.js';
import type { ChannelState } from '../state.js';
import type { ChannelMedia } from '../media/stage.js';
import type { MissingReport } from '../walk/types.js';
import type { ThreadBook } from '../walk/threads.js';

export interface DumpOptions extends ProfileFlags {
  provider: string;
  channel?: string[] | undefined;
  peer?: string[] | undefined;
  since?: string | undefined;
  until?: string | undefined;
  limit?: number | undefined;
  order?: Order | undefined;
  incremental?: boolean | undefined;
  /** --incremental: continue an existing file no state records (read it to find its newest message) */
  adopt?: boolean | undefined;
  resume?: boolean | undefined;
  raw?: boolean | undefined;
  progress?: boolean | undefined;
  quiet?: boolean | undefined;
  verbose?: boolean | undefined;
  config?: string | undefined;
  allowInsecure?: boolean | undefined;
  /** --media may fetch from loopback and private addresses besides the API's own host */
  mediaAllowPrivate?: boolean | undefined;
  stateDir?: string | undefined;
  dryRun?: boolean | undefined;
  /** archive: re-read this long before what it holds (`7d`) */
  lookback?: string | undefined;
  /** archive: re-read the whole history */
  full?: boolean | undefined;
  /** walk the people directory even if a copy younger than a day is kept */
  refreshPeople?: boolean | undefined;
  /** every readable channel the definition's `channels` part lists (DESIGN.md 4c) */
  allChannels?: boolean | undefined;
  /** --all-channels: globs on names or ids; a channel must match one (when given) */
  include?: string[] | undefined;
  /** --all-channels: globs on names or ids; a channel matching one is left out */
  exclude?: string[] | undefined;
  /** --all-channels: kinds to keep (channel, private, direct, group, thread) */
  kind?: string[] | undefined;
  excel?: boolean | undefined;
  /** zone transcripts show times in (default: this machine's) */
  tz?: string | undefined;
  /** without a terminal, a stats line every interval ("1m"; "0" = none) */
  stats?: string | undefined;
}

export interface DumpIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** aborted on SIGINT/SIGTERM */
  signal?: AbortSignal | undefined;
}

export interface ChannelJob {
  index: number;
  target: ChannelTarget;
  /** the channel's own provider where one run holds several (convert of an archive); else the profile's */
  provider?: string | undefined;
  label: string;
  /** --all-channels: the listing named this channel (one it turns out it may not read is skipped, not failed) */
  listed?: { name: string | null } | undefined;
  /** where this channel's messages go: a file of its own, or the shared stream */
  path: string | undefined;
  /** this source (profile, API root, channel): its lock and checkpoints */
  stateName: string;
  /** the state's name before API roots were normalized (read once, then rewritten under outputStateName) */
  legacyStateName: string;
  /**
   * This source's --incremental state for this output (a file, or `-`): each output keeps its own, so a
   * nightly transcript and a data file of one channel both grow (a state under stateName, from before,
   * is read when it records this same output, then moved here).
   */
  outputStateName: string;
  /** where this run spools and checkpoints the channel */
  checkpoints: string;
  /** --incremental: the last successful run's record, after any repair */
  state: ChannelState | undefined;
  /** --media: this channel's use of the media stage (its counters and failures) */
  media?: ChannelMedia | undefined;
  /** messages known missing from this channel's walk (exit 5) */
  missing: MissingReport[];
}

export interface ChannelDone {
  job: ChannelJob;
  spool: Spool;
  result: SpoolResult;
  skip: number;
  take: number;
  /** newest message kept (dated no later than now + clock skew) and every id at its time */
  newest: { time: number; ids: string[] } | undefined;
  /** messages kept that are dated beyond now + clock skew: written, but not the watermark */
  future: Array<{ id: string; time: number }>;
  /** this export's checkpoint directory, removed once the output is written */
  checkpoints: string;
  /**
   * What this channel's output came to, for the summary: bytes, and with
   * --partition the number of parts (`shared`: the parts hold several
   * channels, so no byte count is this channel's own).
   */
  written: { bytes: number; parts?: number; shared?: boolean; appended?: boolean };
  /** the channel's threads as this run left them (a definition with `replies`): recorded with the incremental state */
  threads?: ThreadBook | undefined;
}

export interface DumpPlan {
  targets: ChannelTarget[];
  baseUrl: string;
  format: Format;
  output: OutputPlan;
  order: Order;
  window: TimeWindow;
  limit: number | undefined;
  pageSize: number;
  /** -o PATH.sqlite / --format sqlite: the archive file (then `format` is unused) */
  archive: { path: string; lookbackMs: number; full: boolean } | undefined;
  /** --partition: at most this many messages per file */
  partition?: number | undefined;
  /** --media: where files go, the largest one kept, and whether private addresses other than the API's may be fetched */
  media?: { dir: string; maxBytes: number; allowPrivate: boolean } | undefined;
  /** the API root as an identity: no credentials, no trailing slash, lower-case host */
  apiRoot: string;
  /** zone transcripts show times in (--tz, else this machine's); undefined for a format that shows no local time */
  displayZone: string | undefined;
  incremental: boolean;
  /** CSV for Excel: BOM, ids as text */
  excel: boolean;
}
