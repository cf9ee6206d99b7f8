import { statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { parseTimeSpec } from '../pipeline/window.js';
import type { ResolvedProfile } from '../profile/resolve.js';
import type { ChannelTarget, Provider } from '../providers/types.js';
import { planOutput, type OutputPlan } from '../sinks/output-path.js';
import { FILE_EXTENSIONS, formatFromPath } from '../sinks/registry.js';
import { redactUrl } from '../text/sanitize.js';
import { parseZone } from '../text/zone.js';
import type { DumpOptions, DumpPlan } from '../run/types.js';

/** Checks every option before anything is sent, and decides what the run will do (each check in the order a user meets them). */
export function planDump(options: DumpOptions, profile: ResolvedProfile, provider: Provider, warnings: string[]): DumpPlan {
  const targets = planTargets(options, provider);
  const base = checkBaseUrl(options, profile, provider);
  // In a URL path `.` and `..` would climb (`/im/../message/1` is `/message/1`): never an id a server gave out.
  for (const target of targets) {
    if ((target.id === '.' || target.id === '..') && idInPath(provider, target)) {
      throw new UsageError(`${JSON.stringify(target.id)} cannot be a ${provider.name} ${target.kind} id: it would change the request path`);
    }
  }
  checkSettings(options, profile, provider, warnings);
  const { since, until, order } = planWindow(options);
  const output = planOutput(profile.output);
  checkOutputParent(output);
  const archive = planArchive(options, profile, output);
  const format = planFormat(options, profile, output, archive);
  const partition = planPartition(options, profile, output);
  const media = planMedia(options, profile, output);

  return {
    targets,
    // checkBaseUrl refused a missing one
    baseUrl: profile.baseUrl!,
    format,
    output,
    partition,
    media,
    order,
    window: { since, until, after: undefined },
    limit: options.limit,
    pageSize: profile.pageSize ?? provider.defaultPageSize,
    archive,
    apiRoot: normalizeApiRoot(base),
    // The machine's zone comes from ICU, whose zone data takes ~30 ms of start-up to load: only the formats that
    // show local times ask for it (--tz is still checked before any request, whatever the format).
    displayZone: options.tz !== undefined || format === 'md' || format === 'html' ? displayZone(options.tz) : undefined,
    incremental: Boolean(options.incremental),
    excel: Boolean(options.excel),
  };
}

/** The channels and peers asked for, each once, in the order given. */
function planTargets(options: DumpOptions, provider: Provider): ChannelTarget[] {
  const channels = options.channel ?? [];
  const peers = options.peer ?? [];
  if (peers.length > 0 && !provider.definition.request.peer) {
    throw new UsageError(`--peer is only for providers with direct conversations, like relation (${provider.name} has no direct conversations by peer id)`);
  }
  if (options.allChannels) {
    if (channels.length + peers.length > 0) throw new UsageError('--all-channels lists the channels itself: leave out --channel / --peer', { hint: 'or name channels with --include' });
    if (!provider.channels) {
      throw new UsageError(`${provider.name} cannot list its channels: its definition has no "channels" part`, {
        hint: 'name them with --channel ID, or add a "channels" part to the definition (README: "Back up a whole workspace")',
      });
    }
  } else if ((options.include?.length ?? 0) + (options.exclude?.length ?? 0) + (options.kind?.length ?? 0) > 0) {
    throw new UsageError(`${options.include?.length ? '--include' : options.exclude?.length ? '--exclude' : '--kind'} chooses among listed channels: give --all-channels`);
  } else if (channels.length + peers.length === 0) {
    throw new UsageError('no channel to export', {
      hint: 'give --channel ID (repeatable)' + (provider.definition.request.peer ? ' or --peer ID' : '') + (provider.channels ? ', or --all-channels' : ''),
    });
  }
  for (const id of [...channels, ...peers]) {
    if (id.trim() === '') throw new UsageError('an empty --channel / --peer id was given');
  }
  return [
    ...unique(channels).map((id) => ({ id, kind: 'channel' as const })),
    ...unique(peers).map((id) => ({ id, kind: 'peer' as const })),
  ];
}

/** The API root: present, a plain http(s) address with no credentials in it, and https:// unless loopback or allowed. */
function checkBaseUrl(options: DumpOptions, profile: ResolvedProfile, provider: Provider): URL {
  if (!profile.baseUrl) {
    throw new UsageError(`${provider.name} has no default API address: every ${provider.name === 'discuz' ? 'Discuz! Q site is self-hosted' : 'site is different'}`, {
      hint: `give --base-url https://your.site, set CHAT_EXPORT_BASE_URL, or save it in a profile (chat-export profile add NAME --provider ${provider.name} --base-url …)`,
    });
  }
  const baseName = sourceName('baseUrl', '--base-url', 'CHAT_EXPORT_BASE_URL', profile);
  let base: URL;
  try {
    base = new URL(profile.baseUrl);
  } catch {
    throw new UsageError(`${baseName} ${JSON.stringify(redactUrl(profile.baseUrl))} is not a URL`);
  }
  if (base.protocol !== 'https:' && base.protocol !== 'http:') {
    throw new UsageError(`${baseName} must be http:// or https://, not ${base.protocol}`);
  }
  // Requests are built from the API root's origin and path only: credentials written into it
  // would be dropped silently (and shown by --dry-run), so they are refused instead.
  if (base.username !== '' || base.password !== '') {
    throw new UsageError(`${baseName} carries credentials (user:password@): chat-export does not send them`, {
      hint: `remove them from ${redactUrl(base)} and give the credential with CHAT_EXPORT_TOKEN, a profile's tokenEnv, or --token`,
    });
  }
  if (base.search !== '') {
    throw new UsageError(`${baseName} has a query string; the API root must be a plain address (${redactUrl(new URL(base.pathname, base))})`, {
      hint: 'a credential such as ?token=… goes in CHAT_EXPORT_TOKEN, a profile\'s tokenEnv, or --token',
    });
  }
  if (base.protocol === 'http:' && !isLoopback(base.hostname) && !options.allowInsecure) {
    throw new UsageError(`refusing to send credentials over plain http:// to ${base.host}`, {
      hint: 'use https://, or pass --allow-insecure if you accept that anyone on the network can read the token',
    });
  }
  return base;
}

/** Credentials, the zone naive times are read in, and the numeric and combination rules of the flags. */
function checkSettings(options: DumpOptions, profile: ResolvedProfile, provider: Provider, warnings: string[]): void {
  for (const problem of missingCredentials(profile, provider)) {
    if (options.dryRun) warnings.push(problem.message);
    else throw new UsageError(problem.message, { hint: problem.hint });
  }
  if (provider.credentials.apiKey === 'optional' && !profile.apiKey) {
    warnings.push(`${provider.name}: no API key given (${profile.profile?.apiKeyEnv ?? 'CHAT_EXPORT_API_KEY'}, --api-key or a profile); the server may refuse the requests`);
  }
  checkCredentialValues(profile);
  if (profile.timezone !== undefined) {
    try {
      parseZone(profile.timezone);
    } catch (error) {
      // Name the setting where the user wrote it, not a flag they never typed.
      const where = { flag: '--timezone', env: '--timezone', default: '--timezone', profile: `profiles.${profile.name}.timezone` }[profile.sources.timezone ?? 'flag'];
      throw new UsageError(`${where}: ${(error as Error).message}`);
    }
  }
  positive('--rate', profile.rate, false);
  if (profile.rate < MIN_RATE) {
    throw new UsageError(`--rate must be at least ${MIN_RATE} requests per second (one every ${Math.round(1 / MIN_RATE / 86_400)} days), not ${profile.rate}`);
  }
  positive('--concurrency', profile.concurrency, true);
  positive('--timeout', profile.timeout, true);
  if (profile.timeout > MAX_TIMER_MS) {
    throw new UsageError(`--timeout must be between 1 and ${MAX_TIMER_MS} ms (about 24 days), not ${profile.timeout}`);
  }
  if (!Number.isInteger(profile.retries) || profile.retries < 0) throw new UsageError('--retries must be a whole number, 0 or more');
  if (profile.pageSize !== undefined) positive('--page-size', profile.pageSize, true);
  if (options.limit !== undefined) positive('--limit', options.limit, true);
  if (options.adopt && !options.incremental) throw new UsageError('--adopt continues a file with --incremental: give both');
  if (options.incremental && options.limit !== undefined) {
    throw new UsageError('--incremental with --limit would leave out for good every message between the last run and the newest N', {
      hint: 'drop --limit (an incremental run fetches only what is new), or export the newest N without --incremental',
    });
  }
}

function planWindow(options: DumpOptions): { since: number | undefined; until: number | undefined; order: 'asc' | 'desc' } {
  const now = Date.now();
  const since = options.since !== undefined ? parseTimeSpec(options.since, '--since', now) : undefined;
  const until = options.until !== undefined ? parseTimeSpec(options.until, '--until', now) : undefined;
  if (since !== undefined && until !== undefined && since >= until) {
    throw new UsageError('--since must be before --until');
  }
  const order = options.order ?? 'asc';
  if (order !== 'asc' && order !== 'desc') throw new UsageError(`--order must be asc or desc, not ${JSON.stringify(order)}`);
  return { since, until, order };
}

/** A file output's directory must exist (checked before any request). */
function checkOutputParent(output: OutputPlan): void {
  if (output.kind !== 'file') return;
  // Decided before any request: a whole export must not be fetched only to find it has nowhere to go.
  const parent = dirname(output.path);
  let parentInfo: ReturnType<typeof statSync> | undefined;
  try {
    parentInfo = statSync(parent, { throwIfNoEntry: false });
  } catch {
    parentInfo = undefined;
  }
  if (!parentInfo?.isDirectory()) {
    const why = parentInfo ? `${parent} is a file, not a directory` : `the directory ${parent} does not exist`;
    throw new UsageError(`--output ${output.path}: ${why}`, {
      hint: 'create it first, or end the path with / to export one file per channel into a new directory',
    });
  }
}

function planFormat(options: DumpOptions, profile: ResolvedProfile, output: OutputPlan, archive: DumpPlan['archive']): DumpPlan['format'] {
  const chosen = archive ? 'jsonl' : profile.format;
  // --excel is a kind of CSV: it picks CSV when nothing else chose a format.
  const format =
    (chosen === 'sqlite' ? undefined : chosen) ??
    (output.kind === 'file' ? formatFromPath(output.path) : output.kind === 'template' ? formatFromPath(output.pattern) : undefined) ??
    (options.excel ? 'csv' : 'jsonl');
  if (options.excel && (archive || format !== 'csv')) {
    throw new UsageError(`--excel is for CSV output, not ${archive ? 'an archive' : format}`, { hint: 'use --format csv or an output file ending in .csv' });
  }
  if (!(format in FILE_EXTENSIONS)) throw new UsageError(`--format must be jsonl, csv, md, html or sqlite, not ${JSON.stringify(format)}`);
  return format;
}

function planPartition(options: DumpOptions, profile: ResolvedProfile, output: OutputPlan): number | undefined {
  const partition = profile.partition;
  if (partition !== undefined) {
    positive('--partition', partition, true);
    if (options.incremental) {
      throw new UsageError('--partition cannot be used with --incremental', {
        hint: 'an incremental output grows at one end; partition a full export instead',
      });
    }
    if (output.kind === 'stdout') {
      throw new UsageError('--partition writes files: give -o FILE or -o DIR/', { hint: 'stdout cannot be split into parts' });
    }
  }
  return partition;
}

function planMedia(options: DumpOptions, profile: ResolvedProfile, output: OutputPlan): DumpPlan['media'] {
  let media: DumpPlan['media'];
  if (profile.media) {
    const beside = output.kind === 'directory' ? output.dir : output.kind === 'file' ? dirname(output.path) : process.cwd();
    media = {
      dir: resolve(profile.mediaDir ?? join(beside, 'media')),
      maxBytes: profile.mediaMaxSize === undefined ? DEFAULT_MEDIA_MAX_BYTES : parseSize(profile.mediaMaxSize, '--media-max-size'),
      allowPrivate: Boolean(options.mediaAllowPrivate),
    };
    // A file in the way (here or above: ENOTDIR), no permission, a read-only disk: the path probes say which, naming it.
    let existing: ReturnType<typeof statSync> | undefined;
    try {
      existing = statSync(media.dir, { throwIfNoEntry: false });
    } catch {
      existing = undefined;
    }
    if (existing && !existing.isDirectory()) throw new UsageError(`--media-dir ${media.dir} is not a directory`);
  } else if (profile.sources.mediaDir === 'flag' || profile.sources.mediaMaxSize === 'flag' || options.mediaAllowPrivate) {
    const flag = profile.sources.mediaDir === 'flag' ? '--media-dir' : profile.sources.mediaMaxSize === 'flag' ? '--media-max-size' : '--media-allow-private';
    throw new UsageError(`${flag} needs --media`);
  }
  return media;
}

/** A credential that cannot be a header value is exit 2 saying why (undici would refuse every request as a network error). */
export function checkCredentialValues(profile: Pick<ResolvedProfile, 'token' | 'apiKey'>): void {
  for (const [what, value] of [['token', profile.token], ['API key', profile.apiKey]] as const) {
    if (value !== undefined && /[^\t\x20-\x7e\x80-\xff]/.test(value)) {
      const where = /[\r\n]/.test(value) ? 'a line break (CR or LF; a file saved with Windows line ends?)' : 'a control or non-Latin-1 character';
      throw new UsageError(`the ${what} contains ${where}, which cannot be sent in an HTTP header`, {
        hint: `set it again without it (${what === 'token' ? 'CHAT_EXPORT_TOKEN, tokenEnv or --token' : 'CHAT_EXPORT_API_KEY, apiKeyEnv or --api-key'}); e.g. tr -d '\\r\\n' < file`,
      });
    }
  }
}

/** The longest delay a Node timer can hold (a larger one fires after 1 ms). */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/** 1/rate must fit a timer: one request every 1e6 s is the slowest rate accepted. */
export const MIN_RATE = 0.000001;

/** Whether the definition puts this kind of id into the URL path (dishawang), not the query. */
function idInPath(provider: Provider, target: ChannelTarget): boolean {
  const request = provider.definition.request;
  const template = (target.kind === 'peer' ? request.peer?.path : undefined) ?? request.path;
  return /\{(channel|peer)\}/.test(template);
}

function sourceName(key: 'baseUrl', flag: string, envName: string, profile: ResolvedProfile): string {
  const source = profile.sources[key];
  if (source === 'env') return envName;
  if (source === 'profile') return `profile "${profile.name}" ${key}`;
  return flag;
}

/**
 * The API root as an identity (state, checkpoints, output ownership): no
 * credentials, query or fragment, lower-case host, no default port, no
 * trailing slash — `https://Site.example/api/` is `https://site.example/api`.
 */
export function normalizeApiRoot(url: URL): string {
  const path = url.pathname.replace(/\/+$/, '');
  return `${url.protocol}//${url.host}${path}`;
}

/** Credentials the provider requires and the profile lacks, each with where to put it. */
export function missingCredentials(profile: ResolvedProfile, provider: Provider): Array<{ message: string; hint: string }> {
  const out: Array<{ message: string; hint: string }> = [];
  if (provider.credentials.token === 'required' && !profile.token) {
    const variable = profile.profile?.tokenEnv ?? 'CHAT_EXPORT_TOKEN';
    out.push({
      message: `${provider.name} needs a token and none was given (${variable} is not set)`,
      hint: `set ${variable}, pass --token - to read it from stdin, or save it: ${
        profile.profile ? `chat-export profile set ${profile.name} token -` : `chat-export profile add NAME --provider ${provider.name} --token -`
      }`,
    });
  }
  if (provider.credentials.apiKey === 'required' && !profile.apiKey) {
    const variable = profile.profile?.apiKeyEnv ?? 'CHAT_EXPORT_API_KEY';
    out.push({
      message: `${provider.name} needs an API key and none was given (${variable} is not set)`,
      hint: `set ${variable}, or pass --api-key - to read it from stdin`,
    });
  }
  return out;
}

/**
 * The zone a reader sees times in: --tz, else this machine's (TZ, then the
 * system's), as a chat client or DiscordChatExporter shows them.
 */
export function displayZone(flag: string | undefined): string {
  if (flag !== undefined) {
    try {
      parseZone(flag);
    } catch (error) {
      throw new UsageError(`--tz: ${(error as Error).message}`);
    }
    return flag;
  }
  const machine = Intl.DateTimeFormat().resolvedOptions().timeZone;
  try {
    if (machine) {
      parseZone(machine);
      return machine;
    }
  } catch {
    // a zone name Node knows but our reader does not: UTC is still true, only less local
  }
  return 'UTC';
}

/** -o PATH.sqlite (.db) or --format sqlite: an archive, with the options that only it takes. */
function planArchive(options: DumpOptions, profile: ResolvedProfile, output: OutputPlan): DumpPlan['archive'] {
  const wanted = profile.format === 'sqlite' || (profile.format === undefined && output.kind === 'file' && isArchivePath(output.path));
  if (!wanted) {
    if (options.lookback !== undefined || options.full) {
      throw new UsageError(`${options.full ? '--full' : '--lookback'} is for an archive: give -o PATH.sqlite`, {
        hint: 'a file export re-reads everything anyway; --incremental appends only what is new',
      });
    }
    return undefined;
  }
  if (output.kind !== 'file') {
    throw new UsageError('an archive is one SQLite file: give -o PATH.sqlite (or .db)', { hint: 'it holds every channel, provider and API root you export into it' });
  }
  if (options.limit !== undefined) {
    throw new UsageError('--limit does not apply to an archive (it would leave a gap in it)', {
      hint: 'export everything into the archive, then: chat-export convert ARCHIVE --limit N -o FILE',
    });
  }
  let lookbackMs = 0;
  if (options.lookback !== undefined) {
    const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?$/.exec(options.lookback.trim());
    const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
    if (!match || (match[2] === undefined && Number(match[1]) !== 0)) {
      throw new UsageError(`--lookback: cannot read ${JSON.stringify(options.lookback)} as a duration`, { hint: 'e.g. 7d, 36h, 90m' });
    }
    lookbackMs = Math.round(Number(match[1]) * (units[match[2] ?? 'ms'] ?? 1));
  }
  return { path: output.path, lookbackMs, full: Boolean(options.full) };
}

export function isArchivePath(path: string): boolean {
  return /\.(sqlite3?|db)$/i.test(path);
}

function positive(flag: string, value: number, integer: boolean): void {
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new UsageError(`${flag} must be a ${integer ? 'whole ' : ''}number above 0`);
  }
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '::1';
}

export function numberFromEnv(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

export const DEFAULT_MEDIA_MAX_BYTES = 100 * 1024 * 1024;

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };

/** "100M", "1.5G", "512k", "1048576" → bytes (units are powers of 1024). */
export function parseSize(value: string | number, flag: string): number {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value > 0) return value;
    throw new UsageError(`${flag} must be a whole number of bytes above 0`);
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  const unit = match ? SIZE_UNITS[match[2]!.toLowerCase()] : undefined;
  const bytes = match && unit !== undefined ? Math.floor(Number(match[1]) * unit) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new UsageError(`${flag} ${JSON.stringify(value)} is not a size`, { hint: 'give bytes, or a number with K, M or G (100M)' });
  }
  return bytes;
}
