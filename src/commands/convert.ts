/**
 * `chat-export convert INPUT -o OUTPUT`: offline rendering. INPUT is an
 * archive or a JSONL export; OUTPUT any format dump writes — through the same
 * sinks and writer, so the bytes are dump's for the same messages — or an
 * archive (importing a JSONL backup made before the archive existed).
 *
 * The command composes, as dump's does: the reading side is with the code it
 * reads (archive/sources.ts: an archive's rows; pipeline/jsonl-source.ts: a
 * JSONL export through the spool; archive/import.ts: into an archive), the
 * writing side is dump's targets (targets/choose.ts).
 */
import { dirname, join, resolve } from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { normalizeApiRoot } from '../archive/api-root.js';
import { importInto } from '../archive/import.js';
import { archiveSources, isArchivePath, isSqliteFile, mediaLinker } from '../archive/sources.js';
import type { ReadFilter } from '../archive/read.js';
import { Archive, archiveError } from '../archive/store.js';
import { sqliteCode } from '../archive/sqlite.js';
import { UsageError } from '../errors.js';
import { asLocalIoError } from '../fs-errors.js';
import { probeWritableDir, probeWritableFile } from '../sinks/probe-path.js';
import { createLogger, type Logger } from '../log.js';
import type { ChannelSource } from '../pipeline/channel-source.js';
import { spoolJsonl } from '../pipeline/jsonl-source.js';
import { Spool, type Order } from '../pipeline/order.js';
import { parseTimeSpec } from '../pipeline/window.js';
import { getProvider } from '../providers/registry.js';
import { loadConfig, resolveConfigPath } from '../profile/store.js';
import { displayZone } from '../dump/plan.js';
import type { ChannelDone, DumpPlan } from '../run/types.js';
import { DEFAULTS, type ResolvedProfile } from '../profile/resolve.js';
import { channelFilePath, planOutput, type OutputPlan } from '../sinks/output-path.js';
import { FILE_EXTENSIONS, formatFromPath } from '../sinks/registry.js';
import { spoolCodecFor } from '../sinks/spool-codec.js';
import type { Format } from '../sinks/types.js';
import { chooseTarget } from '../targets/choose.js';

export interface ConvertOptions {
  output?: string | undefined;
  format?: string | undefined;
  channel?: string[] | undefined;
  provider?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  order?: Order | undefined;
  limit?: number | undefined;
  /** zone transcripts show times in, as dump's --tz (default: this machine's) */
  tz?: string | undefined;
  partition?: number | undefined;
  /** link the local copies an archive's media table records */
  media?: boolean | undefined;
  raw?: boolean | undefined;
  baseUrl?: string | undefined;
  quiet?: boolean | undefined;
  /** the config file: its provider definitions name the API root of their messages */
  config?: string | undefined;
}

export interface ConvertIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env?: NodeJS.ProcessEnv | undefined;
}

interface Plan {
  format: Format | 'sqlite';
  output: OutputPlan;
  filter: ReadFilter;
  order: Order;
  limit: number | undefined;
  zone: string;
  partition: number | undefined;
}

function planConvert(options: ConvertOptions): Plan {
  if (!options.output) throw new UsageError('convert needs -o OUTPUT', { hint: 'a file (.jsonl .csv .md .sqlite), a directory/, or - for stdout' });
  const output = planOutput(options.output);
  if (output.kind === 'template') {
    throw new UsageError('convert takes a file, a directory/ or -, not a name template', { hint: 'give -o DIR/ for one file per channel' });
  }
  const format = (options.format ?? (output.kind === 'file' ? (isArchivePath(output.path) ? 'sqlite' : formatFromPath(output.path)) : undefined) ?? 'jsonl') as Format | 'sqlite';
  if (format !== 'sqlite' && !(format in FILE_EXTENSIONS)) {
    throw new UsageError(`--format must be ${[...Object.keys(FILE_EXTENSIONS), 'sqlite'].join(', ')}, not ${JSON.stringify(format)}`);
  }
  if (format === 'sqlite' && output.kind !== 'file') throw new UsageError('an archive output is one file: give -o PATH.sqlite');
  const now = Date.now();
  const since = options.since !== undefined ? parseTimeSpec(options.since, '--since', now) : undefined;
  const until = options.until !== undefined ? parseTimeSpec(options.until, '--until', now) : undefined;
  if (since !== undefined && until !== undefined && since >= until) throw new UsageError('--since must be before --until');
  const order = options.order ?? 'asc';
  if (order !== 'asc' && order !== 'desc') throw new UsageError(`--order must be asc or desc, not ${JSON.stringify(order)}`);
  if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit <= 0)) throw new UsageError('--limit must be a whole number above 0');
  if (options.partition !== undefined) {
    if (!Number.isInteger(options.partition) || options.partition <= 0) throw new UsageError('--partition must be a whole number above 0');
    if (format === 'sqlite') throw new UsageError('--partition splits files; an archive is one database', { hint: 'leave out --partition' });
    if (output.kind === 'stdout') throw new UsageError('--partition writes files: give -o FILE or -o DIR/', { hint: 'stdout cannot be split into parts' });
  }
  return {
    format,
    output,
    filter: { provider: options.provider, channels: options.channel, since, until },
    order,
    limit: options.limit,
    // the zone dump would show: byte-identical output for the same messages
    zone: displayZone(options.tz),
    partition: options.partition,
  };
}

export async function runConvert(input: string, options: ConvertOptions, io: ConvertIo): Promise<void> {
  const logger = createLogger(options.quiet ? 'quiet' : 'normal', io.stderr);
  const plan = planConvert(options);
  // stdin can only be a JSONL export: an archive is a file SQLite opens, not a stream
  const fromArchive = input !== '-' && (await isSqliteFile(input));
  // as dump: an output that cannot be written is exit 2 before anything is read
  if (plan.output.kind === 'file') await probeWritableFile(plan.output.path, '--output');
  else if (plan.output.kind === 'directory') await probeWritableDir(plan.output.dir, '--output');
  if (options.media && (!fromArchive || plan.format === 'sqlite')) {
    throw new UsageError('--media links the files an archive recorded: it needs an archive as INPUT and a file format as output', {
      hint: 'convert ARCHIVE.sqlite --media -o OUT.html',
    });
  }
  if (plan.format === 'sqlite') {
    if (plan.output.kind === 'file' && !fromArchive && plan.output.path === input) throw new UsageError('the input and the output are the same file');
    const path = plan.output.kind === 'file' ? plan.output.path : '';
    const totals = await importInto(path, input, { archive: fromArchive, filter: plan.filter, limit: plan.limit }, apiResolver(input, options, io, logger));
    logger.info(`${path}: ${totals.added} new messages, ${totals.changed} changed, ${totals.seen} read from ${input}`);
    return;
  }
  const read = { order: plan.order, limit: plan.limit, raw: Boolean(options.raw), codec: spoolCodecFor(plan.format) };
  if (fromArchive) {
    const archive = Archive.open(input, { create: false, readonly: true });
    try {
      const link = options.media ? mediaLinker(archive, input, outputDir(plan.output)) : undefined;
      const sources = archiveSources(archive, plan.filter, { ...read, link });
      warnMissing(plan.filter.channels, sources.map((source) => source.key.channel), input, logger);
      await writeSources(sources, plan, logger);
    } catch (error) {
      // A damaged page met while reading: the input's fault, said with what to do (exit 2); the output is
      // written atomically, so nothing half-written stays behind.
      if (sqliteCode(error)) throw archiveError(input, error, 'read it');
      throw error;
    } finally {
      archive.close();
    }
    return;
  }
  const sources = await spoolJsonl(input, { ...read, filter: plan.filter });
  try {
    warnMissing(plan.filter.channels, sources.map((source) => source.key.channel), input, logger);
    await writeSources(sources, plan, logger);
  } finally {
    for (const source of sources) await source.dispose();
  }
}

/** The directory local media copies are named relative to: where the output goes. */
function outputDir(output: OutputPlan): string {
  return output.kind === 'file' ? dirname(resolve(output.path)) : output.kind === 'directory' ? resolve(output.dir) : process.cwd();
}

function warnMissing(wanted: string[] | undefined, found: string[], input: string, logger: Logger): void {
  for (const id of wanted ?? []) if (!found.includes(id)) logger.warn(`channel ${id} is not in ${input}`);
}

/**
 * As dump writes, through dump's own targets (targets/choose.ts): one file per
 * channel into a directory, else every channel into one stream (one CSV
 * header, one HTML document), or parts of at most --partition messages.
 */
async function writeSources(sources: ChannelSource[], plan: Plan, logger: Logger): Promise<void> {
  try {
    await deliverSources(sources, plan, logger);
  } catch (error) {
    // disk full, an I/O error while writing: exit 6 naming the output, never "internal error"
    throw asLocalIoError(error, { path: plan.output.kind === 'file' ? plan.output.path : plan.output.kind === 'directory' ? plan.output.dir : 'stdout' });
  }
}

async function deliverSources(sources: ChannelSource[], plan: Plan, logger: Logger): Promise<void> {
  const format = plan.format as Format;
  if (sources.length === 0) {
    logger.warn('nothing to convert: no channel of the input matches; no output written');
    return;
  }
  const dumpPlan: DumpPlan = {
    targets: sources.map((source) => ({ id: source.key.channel, kind: 'channel' })),
    baseUrl: '',
    format,
    output: plan.output,
    order: plan.order,
    window: { since: undefined, until: undefined, after: undefined },
    limit: plan.limit,
    pageSize: 0,
    archive: undefined,
    partition: plan.partition,
    media: undefined,
    apiRoot: '',
    displayZone: plan.zone,
    incremental: false,
    excel: false,
  };
  // The targets clear a delivered channel's checkpoint directory: here a scratch directory of this run.
  const scratch = await mkdtemp(join(tmpdir(), 'chat-export-convert-'));
  const target = await chooseTarget({ plan: dumpPlan, profile: profileOf(sources[0]!.key.provider, plan), stateDir: scratch, logger }, { incremental: false, adopt: false });
  let succeeded = 0;
  let failed = true;
  let messages = 0;
  try {
    for (const [index, source] of sources.entries()) {
      const done = doneOf(source, index, plan, join(scratch, String(index)));
      await target.deliver(done);
      messages += done.take;
      succeeded++;
    }
    failed = false;
  } finally {
    try {
      // an output some channel could not be written into is not committed
      await target.close({ succeeded, interrupted: failed });
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
  const where = plan.output.kind === 'file' ? plan.output.path : plan.output.kind === 'directory' ? `${plan.output.dir}/ (one file per channel)` : plan.output.kind === 'template' ? plan.output.pattern : 'stdout';
  logger.info(`${messages} message${messages === 1 ? '' : 's'}${sources.length > 1 ? ` of ${sources.length} channels` : ''} → ${where}`);
}

/** What dump's targets know of a run's profile: only the provider is read; the rest are the defaults. */
function profileOf(provider: string, plan: Plan): ResolvedProfile {
  return {
    name: provider,
    provider,
    profile: undefined,
    baseUrl: undefined,
    token: undefined,
    apiKey: undefined,
    pageSize: undefined,
    ...DEFAULTS,
    timezone: undefined,
    format: plan.format,
    output: plan.output.kind === 'file' ? plan.output.path : '-',
    partition: plan.partition,
    media: false,
    mediaDir: undefined,
    mediaMaxSize: undefined,
    sources: {},
  };
}

/** One converted channel as dump hands a walked one to its target. */
function doneOf(source: ChannelSource, index: number, plan: Plan, scratch: string): ChannelDone {
  const { provider, channel } = source.key;
  const format = plan.format as Format;
  return {
    job: {
      index,
      target: { id: channel, kind: 'channel' },
      label: `${provider} channel ${channel}`,
      provider,
      path: plan.output.kind === 'directory' ? channelFilePath(plan.output.dir, provider, channel, FILE_EXTENSIONS[format]) : undefined,
      stateName: '',
      legacyStateName: '',
      outputStateName: '',
      checkpoints: scratch,
      state: undefined,
      missing: [],
    },
    // the messages come from `result`; this spool never holds any (the targets dispose of it)
    spool: new Spool(join(scratch, 'spool'), plan.order),
    result: source.result,
    skip: 0,
    take: source.result.count,
    newest: undefined,
    future: [],
    checkpoints: scratch,
    written: { bytes: 0 },
  };
}

/**
 * The API root a JSONL message's history is keyed by in an archive: --base-url,
 * else its provider's default. The config is read only when a message needs it.
 */
function apiResolver(input: string, options: ConvertOptions, io: ConvertIo, logger: Logger): (provider: string) => string {
  // The config is read only when a message needs its API root: a broken config must not stop other conversions.
  let definitions: Readonly<Record<string, unknown>> | undefined;
  const roots = new Map<string, string | undefined>();
  const defaultRootOf = (provider: string): string | undefined => {
    if (!roots.has(provider)) {
      definitions ??= loadConfig(resolveConfigPath(options.config, io.env ?? process.env), (line) => logger.warn(line)).providers ?? {};
      let base: string | undefined;
      try {
        base = getProvider(provider, definitions).defaultBaseUrl;
      } catch (error) {
        // an unknown provider name (a definition no longer in the config) just has no default root
        if (!(error instanceof UsageError) || !/^unknown provider/.test(error.message)) throw error;
      }
      roots.set(provider, base);
    }
    return roots.get(provider);
  };
  const apiOf = (provider: string): string => {
    if (options.baseUrl) return normalizeApiRoot(options.baseUrl);
    const base = defaultRootOf(provider);
    if (!base) {
      throw new UsageError(`${input} holds ${provider} messages and ${provider} has no default API root`, {
        hint: 'give --base-url URL: the API they came from (the archive keys every history by it)',
      });
    }
    return normalizeApiRoot(base);
  };
  return apiOf;
}
