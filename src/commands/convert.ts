/**
 * `chat-export convert INPUT -o OUTPUT`: offline rendering. INPUT is an
 * archive or a JSONL export; OUTPUT any format dump writes — through the same
 * sinks and writer, so the bytes are dump's for the same messages — or an
 * archive (importing a JSONL backup made before the archive existed).
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { normalizeApiRoot } from '../archive/api-root.js';
import { listSources, readMessages, spanOf, type ReadFilter } from '../archive/read.js';
import { archiveError, Archive, type SourceKey } from '../archive/store.js';
import { sqliteCode } from '../archive/sqlite.js';
import { UsageError } from '../errors.js';
import { asLocalIoError } from '../fs-errors.js';
import { probeWritableDir, probeWritableFile } from '../sinks/probe-path.js';
import { createLogger, type Logger } from '../log.js';
import type { Message } from '../message.js';
import { Spool, type Order, type SpoolResult } from '../pipeline/order.js';
import { parseTimeSpec } from '../pipeline/window.js';
import { getProvider } from '../providers/registry.js';
import { loadConfig, resolveConfigPath } from '../profile/store.js';
import { displayZone } from '../dump/plan.js';
import type { ChannelDone, DumpPlan } from '../dump/types.js';
import { withLocalCopies } from '../media/stage.js';
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

const ARCHIVE_EXTENSIONS = new Set(['.sqlite', '.sqlite3', '.db']);
const SQLITE_MAGIC = 'SQLite format 3\u0000';
/** messages per transaction when importing */
const IMPORT_BATCH = 2_000;
/** messages held in memory per channel before a sorted run spills (as dump) */
const RUN_SIZE = 2_000;

export function isArchivePath(path: string): boolean {
  return ARCHIVE_EXTENSIONS.has(extname(path).toLowerCase());
}

async function isSqliteFile(path: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read ${path}${code ? ` (${code})` : ''}`, { hint: 'give an archive (.sqlite) or a JSONL export' });
  }
  try {
    const { bytesRead, buffer } = await handle.read(Buffer.alloc(16), 0, 16, 0);
    if (bytesRead === 16 && buffer.toString('latin1') === SQLITE_MAGIC) return true;
    // An archive's name with a damaged header is a damaged archive (Archive.open says so), not JSONL to read
    // line by line; only what starts like a JSONL export is read as one whatever its name.
    return isArchivePath(path) && bytesRead > 0 && !/^\s*\{/.test(buffer.toString('utf8', 0, bytesRead));
  } catch (error) {
    throw new UsageError(`cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  } finally {
    await handle.close();
  }
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

/** One channel's messages in export order, as the writer reads a finished spool. */
interface ChannelSource {
  key: SourceKey;
  result: SpoolResult;
  dispose(): Promise<void>;
}

export async function runConvert(input: string, options: ConvertOptions, io: ConvertIo): Promise<void> {
  const logger = createLogger(options.quiet ? 'quiet' : 'normal', io.stderr);
  const plan = planConvert(options);
  const fromArchive = await isSqliteFile(input);
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
    await importInto(plan.output.kind === 'file' ? plan.output.path : '', input, fromArchive, plan, options, io, logger);
    return;
  }
  if (fromArchive) {
    const archive = Archive.open(input, { create: false, readonly: true });
    try {
      const spans = listSources(archive, plan.filter);
      warnMissing(plan.filter.channels, spans.map((span) => span.channel), input, logger);
      const link = options.media ? mediaLinker(archive, input, plan) : undefined;
      const sources = spans.map((span): ChannelSource => {
        const { count, oldest, newest } = spanOf(archive, span, plan.filter, plan.limit);
        const codec = spoolCodecFor(plan.format as Format);
        const lines = async function* (): AsyncGenerator<string> {
          for (const message of readMessages(archive, span, plan.filter, { order: plan.order, limit: plan.limit, raw: Boolean(options.raw) })) {
            yield codec.encode(link ? await link(message) : message);
          }
        };
        return {
          key: span,
          result: { count, oldest, newest, lines, chunks: () => batched(lines()) },
          dispose: async () => {},
        };
      });
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
  const sources = await spoolJsonl(input, plan, Boolean(options.raw));
  try {
    warnMissing(plan.filter.channels, sources.map((source) => source.key.channel), input, logger);
    await writeSources(sources, plan, logger);
  } finally {
    for (const source of sources) await source.dispose();
  }
}

function warnMissing(wanted: string[] | undefined, found: string[], input: string, logger: Logger): void {
  for (const id of wanted ?? []) if (!found.includes(id)) logger.warn(`channel ${id} is not in ${input}`);
}

async function* batched(lines: AsyncIterable<string>): AsyncGenerator<string> {
  let chunk = '';
  for await (const line of lines) {
    chunk += `${line}\n`;
    if (chunk.length >= 1 << 16) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

/**
 * --media: messages naming the local copies the archive's `media` table
 * records (files `dump --media` downloaded beside the archive), relative to
 * where the output goes, as `dump --media` names them. Offline: a URL with no
 * file, or whose file is gone, stays a plain link.
 */
function mediaLinker(archive: Archive, input: string, plan: Plan): (message: Message) => Promise<Message> {
  const from = resolve(dirname(input));
  const base = plan.output.kind === 'file' ? dirname(resolve(plan.output.path)) : plan.output.kind === 'directory' ? resolve(plan.output.dir) : process.cwd();
  const known = new Map<string, string | undefined>();
  const local = async (url: string | null | undefined): Promise<string | undefined> => {
    if (!url) return undefined;
    if (!known.has(url)) {
      const file = archive.mediaFile(url);
      const path = file === undefined ? undefined : resolve(from, file);
      const there = path !== undefined && (await stat(path).catch(() => undefined))?.isFile();
      known.set(url, there ? relative(base, path).split(sep).join('/') : undefined);
    }
    return known.get(url);
  };
  return (message) => withLocalCopies(message, local);
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
  try {
    for (const [index, source] of sources.entries()) {
      await target.deliver(doneOf(source, index, plan, join(scratch, String(index))));
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

/** A JSONL line as a normalized message, or a usage error naming the line. */
function parseLine(line: string, number: number, input: string): Message {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new UsageError(`${input} line ${number} is not JSON`, { hint: 'convert reads JSONL written by chat-export dump' });
  }
  const wrong = wrongField(value);
  if (wrong !== undefined) {
    throw new UsageError(`${input} line ${number} is not a chat-export message (${wrong})`, { hint: 'convert reads JSONL written by chat-export dump' });
  }
  const m = value as Message;
  // Rebuilt in contract key order, so the output never depends on how the file was written.
  const message: Message = {
    id: m.id,
    provider: m.provider,
    channel: m.channel,
    timestamp: m.timestamp,
    sender: { id: m.sender.id, name: m.sender.name ?? null, avatar: m.sender.avatar ?? null },
    type: m.type,
    text: m.text,
    replyTo: m.replyTo ?? null,
    editedAt: m.editedAt ?? null,
    deleted: m.deleted === true,
    attachments: m.attachments.map((a) => ({ url: a.url, name: a.name ?? null, type: a.type ?? null })),
  };
  if (m.raw !== undefined) message.raw = m.raw;
  return message;
}

/**
 * The first field of a JSONL line that is not what dump writes, in words; undefined when every field fits.
 * Every field is checked: a wrong type that got through (`attachments: [null]`, a name that is an object)
 * failed later inside a writer as an internal error.
 */
function wrongField(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not an object';
  const m = value as Record<string, unknown>;
  const text = (v: unknown) => typeof v === 'string';
  const optionalText = (v: unknown) => v === undefined || v === null || typeof v === 'string';
  const time = (v: unknown) => typeof v === 'string' && !Number.isNaN(Date.parse(v));
  for (const key of ['id', 'provider', 'channel', 'type', 'text']) if (!text(m[key])) return `${key} is not a string`;
  if (!time(m.timestamp)) return 'timestamp is not a time';
  const sender = m.sender as Record<string, unknown> | null | undefined;
  if (sender === null || typeof sender !== 'object' || Array.isArray(sender)) return 'sender is not an object';
  if (!text(sender.id)) return 'sender.id is not a string';
  if (!optionalText(sender.name)) return 'sender.name is not a string';
  if (!optionalText(sender.avatar)) return 'sender.avatar is not a string';
  if (!optionalText(m.replyTo)) return 'replyTo is not a message id (a string)';
  if (m.editedAt !== undefined && m.editedAt !== null && !time(m.editedAt)) return 'editedAt is not a time';
  if (m.deleted !== undefined && typeof m.deleted !== 'boolean') return 'deleted is not true or false';
  if (!Array.isArray(m.attachments)) return 'attachments is not a list';
  for (const [i, a] of (m.attachments as unknown[]).entries()) {
    if (a === null || typeof a !== 'object' || Array.isArray(a)) return `attachments[${i}] is not an object`;
    const { url, name, type } = a as Record<string, unknown>;
    if (!text(url)) return `attachments[${i}].url is not a string`;
    if (!optionalText(name) || !optionalText(type)) return `attachments[${i}] has a name or type that is not a string`;
  }
  return undefined;
}

async function* jsonlMessages(input: string): AsyncGenerator<Message> {
  let rest = '';
  let number = 0;
  for await (const chunk of createReadStream(input, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const text = rest + (chunk as string);
    const lines = text.split('\n');
    rest = lines.pop()!;
    for (const line of lines) {
      number++;
      const trimmed = line.endsWith('\r') ? line.slice(0, -1) : line;
      if (trimmed.trim() !== '') yield parseLine(trimmed, number, input);
    }
  }
  number++;
  if (rest.trim() !== '') yield parseLine(rest, number, input);
}

function inFilter(message: Message, filter: ReadFilter): boolean {
  if (filter.provider !== undefined && message.provider !== filter.provider) return false;
  if (filter.channels && filter.channels.length > 0 && !filter.channels.includes(message.channel)) return false;
  const time = Date.parse(message.timestamp);
  if (filter.since !== undefined && time < filter.since) return false;
  if (filter.until !== undefined && time >= filter.until) return false;
  return true;
}

/**
 * A JSONL export into one sorted spool per channel (the same spool dump
 * uses: sorted runs on disk, flat memory, duplicates removed).
 */
async function spoolJsonl(input: string, plan: Plan, raw: boolean): Promise<ChannelSource[]> {
  const dir = await mkdtemp(join(tmpdir(), 'chat-export-convert-'));
  const codec = spoolCodecFor(plan.format as Format);
  const spools = new Map<string, { key: SourceKey; spool: Spool }>();
  try {
    for await (const message of jsonlMessages(input)) {
      if (!inFilter(message, plan.filter)) continue;
      const id = `${message.provider}\u0000${message.channel}`;
      let entry = spools.get(id);
      if (!entry) {
        entry = {
          key: { provider: message.provider, api: '', channel: message.channel },
          spool: new Spool(join(dir, String(spools.size)), plan.order, RUN_SIZE, [], undefined, codec.keyOf),
        };
        spools.set(id, entry);
      }
      if (!raw) delete message.raw;
      entry.spool.add(Date.parse(message.timestamp), message.id, codec.encode(message));
      await entry.spool.maybeFlush();
    }
    let ordered = [...spools.values()];
    if (plan.filter.channels && plan.filter.channels.length > 0) {
      const rank = (channel: string) => plan.filter.channels!.indexOf(channel);
      ordered = ordered.sort((a, b) => rank(a.key.channel) - rank(b.key.channel));
    }
    const sources: ChannelSource[] = [];
    for (const { key, spool } of ordered) {
      const result = await spool.finish();
      sources.push({ key, result: limited(result, plan.order, plan.limit), dispose: () => spool.dispose() });
    }
    // the temp directory goes with the last channel's runs
    const cleanup = () => rm(dir, { recursive: true, force: true });
    const last = sources[sources.length - 1];
    if (!last) await cleanup();
    else {
      const dispose = last.dispose;
      last.dispose = async () => {
        await dispose();
        await cleanup();
      };
    }
    return sources;
  } catch (error) {
    for (const { spool } of spools.values()) await spool.dispose();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** --limit: the newest N, wherever the order puts them (dump's rule). */
function limited(result: SpoolResult, order: Order, limit: number | undefined): SpoolResult {
  if (limit === undefined || result.count <= limit) return result;
  const skip = order === 'asc' ? result.count - limit : 0;
  const lines = async function* () {
    let index = 0;
    let taken = 0;
    for await (const line of result.lines()) {
      if (index++ < skip) continue;
      if (taken++ >= limit) return;
      yield line;
    }
  };
  return {
    count: limit,
    oldest: result.oldest,
    newest: result.newest,
    lines,
    chunks: async function* () {
      let chunk = '';
      for await (const line of lines()) {
        chunk += `${line}\n`;
        if (chunk.length >= 1 << 16) {
          yield chunk;
          chunk = '';
        }
      }
      if (chunk) yield chunk;
    },
  };
}

/** JSONL (or another archive) into an archive: upserts, earlier versions kept, no walk state touched. */
async function importInto(path: string, input: string, fromArchive: boolean, plan: Plan, options: ConvertOptions, io: ConvertIo, logger: Logger): Promise<void> {
  const archive = Archive.open(path, { create: true });
  const run = archive.startRun(`convert ${input}`, undefined);
  const totals = { added: 0, changed: 0, seen: 0 };
  let status: 'ok' | 'failed' = 'failed';
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
  try {
    let batch: Message[] = [];
    let batchKey: SourceKey | undefined;
    const flush = () => {
      if (batchKey && batch.length > 0) {
        const counts = archive.writePage(batchKey, 'channel', batch, undefined);
        totals.added += counts.added;
        totals.changed += counts.changed;
        totals.seen += counts.seen;
      }
      batch = [];
    };
    const take = (key: SourceKey, message: Message) => {
      if (!batchKey || batchKey.provider !== key.provider || batchKey.api !== key.api || batchKey.channel !== key.channel || batch.length >= IMPORT_BATCH) {
        flush();
        batchKey = key;
      }
      batch.push(message);
    };
    if (fromArchive) {
      const source = Archive.open(input, { create: false, readonly: true });
      try {
        for (const span of listSources(source, plan.filter)) {
          for (const message of readMessages(source, span, plan.filter, { order: 'asc', limit: plan.limit, raw: true })) {
            take(span, message);
          }
        }
      } finally {
        source.close();
      }
    } else {
      // The file's own order is kept: a JSONL backup lists each message once per version it saw
      // only if it was appended to; the later line is the later version.
      for await (const message of jsonlMessages(input)) {
        if (!inFilter(message, plan.filter)) continue;
        take({ provider: message.provider, api: apiOf(message.provider), channel: message.channel }, message);
      }
    }
    flush();
    status = 'ok';
  } finally {
    archive.finishRun(run, status, totals);
    archive.close();
  }
  logger.info(`${path}: ${totals.added} new messages, ${totals.changed} changed, ${totals.seen} read from ${input}`);
}
