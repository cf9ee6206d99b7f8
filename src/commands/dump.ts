import { join } from 'node:path';
import { mkdir, open, stat, truncate, readFile } from 'node:fs/promises';
import { ChatExportError, ExitError, InterruptedError, PartialError, UsageError } from '../errors.js';
import { HttpClient } from '../http/client.js';
import { createLogger, type Logger, type Verbosity } from '../log.js';
import { inWindow, parseTimeSpec, passedWindow, type TimeWindow } from '../pipeline/window.js';
import { Spool, type Order, type SpoolResult } from '../pipeline/order.js';
import { defaultStateDir, loadConfig, resolveConfigPath } from '../profile/store.js';
import { readState, stateFileName, writeState, type ChannelState } from '../state.js';
import { checkpointDir, clearCheckpoint, readCheckpoint, saveCheckpoint } from '../checkpoint.js';
import { lastDayWritten } from '../sinks/markdown.js';
import { resolveProfile, type ProfileFlags, type ResolvedProfile } from '../profile/resolve.js';
import { redactSecret } from '../profile/redact.js';
import { PROVIDERS, getProvider } from '../providers/registry.js';
import type { ChannelTarget, Provider, ProviderSettings } from '../providers/types.js';
import { openAtomic, openStdout, type OutputHandle } from '../sinks/atomic-file.js';
import { channelFilePath, planOutput, type OutputPlan } from '../sinks/output-path.js';
import { createSink, FILE_EXTENSIONS, formatFromPath } from '../sinks/registry.js';
import type { ChannelSummary, Format } from '../sinks/types.js';
import { writeChannel } from '../sinks/write.js';
import { redactUrl, registerSecret } from '../text/sanitize.js';
import { parseZone } from '../text/zone.js';
import { walkCursor } from '../walk/cursor.js';
import { walkPages } from '../walk/pages.js';
import type { WalkBatch, WalkOptions } from '../walk/types.js';
import { createProgress, type ChannelProgress } from '../progress.js';

export interface DumpOptions extends ProfileFlags {
  provider: string;
  channel?: string[] | undefined;
  peer?: string[] | undefined;
  since?: string | undefined;
  until?: string | undefined;
  limit?: number | undefined;
  order?: Order | undefined;
  incremental?: boolean | undefined;
  resume?: boolean | undefined;
  raw?: boolean | undefined;
  progress?: boolean | undefined;
  quiet?: boolean | undefined;
  verbose?: boolean | undefined;
  config?: string | undefined;
  allowInsecure?: boolean | undefined;
  stateDir?: string | undefined;
  dryRun?: boolean | undefined;
}

export interface DumpIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** aborted on SIGINT/SIGTERM */
  signal?: AbortSignal | undefined;
}

interface ChannelJob {
  index: number;
  target: ChannelTarget;
  label: string;
  /** where this channel's messages go: a file of its own, or the shared stream */
  path: string | undefined;
  stateName: string;
  /** --incremental: the last successful run's record, after any repair */
  state: ChannelState | undefined;
}

interface ChannelDone {
  job: ChannelJob;
  spool: Spool;
  result: SpoolResult;
  skip: number;
  take: number;
  /** newest message kept and every id at its time */
  newest: { time: number; ids: string[] } | undefined;
  /** this export's checkpoint directory, removed once the output is written */
  checkpoints: string;
}

/** Messages held in memory per channel before a sorted run spills to disk. */
const RUN_SIZE = 20_000;

export async function runDump(options: DumpOptions, io: DumpIo): Promise<void> {
  const verbosity: Verbosity = options.quiet ? 'quiet' : options.verbose ? 'verbose' : 'normal';
  const logger = createLogger(verbosity, io.stderr);
  const configPath = resolveConfigPath(options.config, io.env);
  const config = loadConfig(configPath, (line) => logger.warn(line));
  const profile = resolveProfile(options.provider, options, io.env, config, (name) => ({
    baseUrl: PROVIDERS[name].defaultBaseUrl,
  }));
  registerSecret(profile.token);
  registerSecret(profile.apiKey);
  const provider = getProvider(profile.provider);
  const warnings: string[] = [];
  const plan = validate(options, profile, provider, warnings);
  for (const line of warnings) logger.warn(line);

  const settings: ProviderSettings = {
    baseUrl: plan.baseUrl,
    token: profile.token,
    apiKey: profile.apiKey,
    timezone: profile.timezone,
    raw: Boolean(options.raw),
  };
  const stateDir = options.stateDir ?? defaultStateDir(configPath);
  const jobs: ChannelJob[] = plan.targets.map((target, index) => ({
    index,
    target,
    label: `${profile.provider} ${target.kind === 'peer' ? 'peer' : 'channel'} ${target.id}`,
    path:
      plan.output.kind === 'directory'
        ? channelFilePath(plan.output.dir, profile.provider, target.id, FILE_EXTENSIONS[plan.format])
        : plan.output.kind === 'file'
          ? plan.output.path
          : undefined,
    stateName: stateFileName(profile.name, target.kind, target.id),
    state: undefined,
  }));
  if (options.incremental) {
    if (plan.output.kind === 'file' && jobs.length > 1) {
      throw new UsageError('--incremental with several channels needs an output directory (-o dir/) or stdout', {
        hint: 'each channel keeps its own file and state',
      });
    }
    if (plan.format === 'md' && plan.order === 'desc') {
      throw new UsageError('--incremental Markdown transcripts grow at the end: use --order asc');
    }
  }

  if (options.dryRun) {
    printDryRun(io.stdout, profile, provider, settings, plan, jobs);
    return;
  }

  const http = new HttpClient({
    timeoutMs: profile.timeout,
    retries: profile.retries,
    rate: profile.rate,
    logger,
    retryBaseMs: numberFromEnv(io.env.CHAT_EXPORT_RETRY_BASE_MS),
  });
  const progress = createProgress({
    enabled: options.progress !== false && verbosity !== 'quiet' && Boolean(io.stderr.isTTY),
    stream: io.stderr,
    logger,
  });
  const started = Date.now();

  const walkOne = async (job: ChannelJob): Promise<ChannelDone> => {
    let window = plan.window;
    if (options.incremental) {
      job.state = await loadIncrementalState(stateDir, job, plan, logger);
      const newest = job.state?.newest;
      if (newest) window = { ...window, after: { time: newest.time, ids: new Set(newest.ids) } };
    }
    const checkpoints = checkpointDir(stateDir, job.stateName);
    const key = JSON.stringify({
      profile: profile.name,
      channel: job.target,
      since: options.since ?? null,
      until: options.until ?? null,
      after: window.after?.time ?? null,
      limit: plan.limit ?? null,
      order: plan.order,
    });
    const saved = options.resume ? await readCheckpoint(checkpoints) : undefined;
    const resumed = saved?.key === key ? saved : undefined;
    if (options.resume && !resumed) logger.info(`${job.label}: no checkpoint of this export to resume; starting from the beginning`);
    if (!resumed) await clearCheckpoint(checkpoints);
    if (resumed) {
      window = { ...window, since: resumed.since ?? undefined, until: resumed.until ?? undefined };
      logger.info(`${job.label}: resuming after ${resumed.kept} messages`);
    }
    const bar = progress.start(job.label);
    const spool = new Spool(join(checkpoints, 'spool'), plan.order, numberFromEnv(io.env.CHAT_EXPORT_RUN_SIZE) ?? RUN_SIZE, resumed?.runs ?? []);
    let kept = resumed?.kept ?? 0;
    let newest: ChannelDone['newest'] = resumed?.newest ?? undefined;
    try {
      const walk = walkChannel(provider, {
        http,
        settings,
        target: job.target,
        pageSize: plan.pageSize,
        concurrency: profile.concurrency,
        until: window.until,
        logger,
        label: job.label,
        signal: io.signal,
        resumeFrom: resumed?.walk,
        stats: bar.stats,
      });
      for await (const batch of walk) {
        for (const entry of batch.entries) {
          if (!inWindow(window, entry.time, entry.message.id)) continue;
          spool.add(entry.time, entry.message.id, JSON.stringify(entry.message));
          kept++;
          if (!newest || entry.time > newest.time) newest = { time: entry.time, ids: [entry.message.id] };
          else if (entry.time === newest.time) newest.ids.push(entry.message.id);
        }
        bar.update(batch, kept);
        if (await spool.maybeFlush()) {
          await saveCheckpoint(checkpoints, {
            version: 1,
            key,
            runs: [...spool.spilled],
            walk: batch.checkpoint,
            kept,
            newest: newest ?? null,
            since: window.since ?? null,
            until: window.until ?? null,
          });
        }
        if (passedWindow(window, batch.oldest)) break;
        if (plan.limit !== undefined && kept >= plan.limit) break;
      }
      const result = await spool.finish();
      // --limit keeps the newest N, wherever the order puts them.
      const take = plan.limit === undefined ? result.count : Math.min(plan.limit, result.count);
      const skip = plan.order === 'asc' ? result.count - take : 0;
      bar.finish(take);
      // With --limit the newest kept message is still the newest: the limit keeps the newest N.
      return { job, spool, result, skip, take, newest, checkpoints };
    } catch (error) {
      bar.fail();
      // Keep what is on disk for --resume; a walk that spilled nothing has nothing to keep.
      if (spool.spilled.length === 0) await clearCheckpoint(checkpoints);
      else if (error instanceof ChatExportError && !(error instanceof UsageError)) {
        throw withHint(error, `run the same command with --resume to continue from the ${kept} messages already fetched`);
      }
      throw error;
    }
  };

  const failures: Array<{ job: ChannelJob; error: unknown }> = [];
  let succeeded = 0;
  const pending = runPool(jobs, profile.concurrency, walkOne);
  // Failures are collected below in channel order; until then they must not count as unhandled.
  for (const promise of pending) promise.catch(() => {});
  try {
    if (plan.output.kind === 'directory') {
      await mkdir(plan.output.dir, { recursive: true });
      await Promise.all(
        pending.map(async (promise, index) => {
          const job = jobs[index]!;
          try {
            const done = await promise;
            if (options.incremental) await deliverIncremental(done, job.path!, plan, profile, stateDir, logger);
            else await writeInto(await openAtomic(job.path!), done, plan, profile, 0);
            succeeded++;
          } catch (error) {
            failures.push({ job, error });
          }
        }),
      );
    } else if (options.incremental && plan.output.kind === 'file') {
      const job = jobs[0]!;
      try {
        await deliverIncremental(await pending[0]!, job.path!, plan, profile, stateDir, logger);
        succeeded++;
      } catch (error) {
        failures.push({ job, error });
      }
    } else {
      // One stream for every channel: written in the order the channels were given.
      let handle: OutputHandle | undefined;
      let written = 0;
      for (const [index, promise] of pending.entries()) {
        const job = jobs[index]!;
        let done: ChannelDone;
        try {
          done = await promise;
        } catch (error) {
          failures.push({ job, error });
          continue;
        }
        handle ??= plan.output.kind === 'stdout' ? openStdout() : await openAtomic(plan.output.path);
        await writeInto(handle, done, plan, profile, written, false);
        written++;
        succeeded++;
        if (options.incremental) await recordState(stateDir, done, '-', plan, profile, { size: 0, lastDay: null });
      }
      if (handle) {
        // Never rename an interrupted run's output over an earlier complete one.
        if (succeeded > 0 && !io.signal?.aborted) await handle.commit();
        else await handle.abort();
      }
    }
  } finally {
    progress.stop();
    await http.close();
  }

  if (io.signal?.aborted) {
    throw new InterruptedError('interrupted; nothing was written for channels still in progress; their checkpoints are saved', {
      hint: 'run the same command with --resume to continue',
    });
  }
  for (const { error } of failures) reportFailure(logger, error);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  logger.debug(`${http.stats.requests} requests, ${http.stats.retries} retries in ${seconds} s`);
  if (failures.length === 0) return;
  if (succeeded > 0) {
    throw new PartialError(
      `${failures.length} of ${jobs.length} channels failed (${failures.map((f) => f.job.target.id).join(', ')}); the others were written`,
      { hint: 'fix the causes above and run again for the failed channels' },
    );
  }
  const codes = new Set(failures.map(({ error }) => (error instanceof ChatExportError ? error.exitCode : 1)));
  const first = failures[0]!.error;
  if (codes.size === 1 && first instanceof ChatExportError) throw new ExitError(first.exitCode);
  throw new ExitError(4);
}

function withHint(error: ChatExportError, hint: string): ChatExportError {
  Object.defineProperty(error, 'hint', { value: error.hint ? `${error.hint}; ${hint}` : hint });
  return error;
}

function reportFailure(logger: Logger, error: unknown): void {
  if (error instanceof ChatExportError) {
    logger.error(error.hint ? `${error.message} — ${error.hint}` : error.message);
  } else {
    logger.error(error instanceof Error ? error.message : String(error));
  }
}

async function writeInto(
  handle: OutputHandle,
  done: ChannelDone,
  plan: DumpPlan,
  profile: ResolvedProfile,
  position: number,
  commit = true,
): Promise<void> {
  try {
    const sink = createSink(plan.format);
    await writeChannel(
      handle.stream,
      sink,
      summaryOf(done, plan, profile),
      done.result,
      { format: plan.format, skip: done.skip, take: done.take, headerless: plan.format === 'csv' && position > 0 },
    );
    if (commit) await handle.commit();
  } catch (error) {
    if (commit) await handle.abort();
    throw error;
  } finally {
    await done.spool.dispose();
    await clearCheckpoint(done.checkpoints);
  }
}

function summaryOf(done: ChannelDone, plan: DumpPlan, profile: ResolvedProfile, append?: ChannelSummary['append']): ChannelSummary {
  return {
    provider: profile.provider,
    channel: done.job.target.id,
    count: done.take,
    ...spanOf(done),
    timezone: profile.timezone,
    order: plan.order,
    append,
  };
}

/**
 * --incremental state of one channel, repaired if the last append was cut
 * short. A state whose output is gone, or that was written for another
 * output, format or order, starts over with a full export.
 */
async function loadIncrementalState(stateDir: string, job: ChannelJob, plan: DumpPlan, logger: Logger): Promise<ChannelState | undefined> {
  const state = await readState(stateDir, job.stateName);
  if (!state) return undefined;
  const output = job.path ?? '-';
  if (state.output !== output || state.format !== plan.format || state.order !== plan.order) {
    logger.warn(`${job.label}: last incremental run wrote ${state.output} (${state.format}, ${state.order}); starting over with a full export to ${output}`);
    return undefined;
  }
  if (output === '-') return state;
  const info = await stat(output).catch(() => undefined);
  if (!info) {
    logger.warn(`${job.label}: ${output} is gone; starting over with a full export`);
    return undefined;
  }
  if (state.order === 'desc') {
    // Newest-first files are rewritten whole (atomically), never appended to: nothing is cut back. A size
    // other than the recorded one means a rewrite was renamed into place but its state never written (or
    // the file was edited): which messages it holds is unknown, so start over rather than add some twice.
    if (info.size !== state.size) {
      logger.warn(`${job.label}: ${output} is not the file the last run recorded (${state.size} → ${info.size} bytes); starting over with a full export`);
      return undefined;
    }
    return state.pending ? { ...state, pending: null } : state;
  }
  if (state.pending) {
    // The previous run died while appending: cut the output back to where that append began.
    if (info.size > state.pending.size) await truncate(output, state.pending.size);
    logger.warn(`${job.label}: the last run was interrupted while appending to ${output}; removed its partial append`);
    const repaired: ChannelState = { ...state, size: state.pending.size, pending: null };
    await writeState(stateDir, job.stateName, repaired);
    return repaired;
  }
  if (info.size !== state.size) {
    logger.warn(`${job.label}: ${output} changed since the last run (${state.size} → ${info.size} bytes); appending after its current end`);
  }
  return state;
}

async function recordState(
  stateDir: string,
  done: ChannelDone,
  output: string,
  plan: DumpPlan,
  profile: ResolvedProfile,
  file: { size: number; lastDay: string | null },
): Promise<void> {
  const previous = done.job.state;
  let newest = previous?.newest ?? null;
  if (done.newest && (!newest || done.newest.time > newest.time)) newest = done.newest;
  else if (done.newest && newest && done.newest.time === newest.time) {
    newest = { time: newest.time, ids: [...new Set([...newest.ids, ...done.newest.ids])] };
  }
  await writeState(stateDir, done.job.stateName, {
    version: 1,
    profile: profile.name,
    provider: profile.provider,
    channel: done.job.target.id,
    kind: done.job.target.kind,
    newest,
    output,
    format: plan.format,
    order: plan.order,
    size: file.size,
    lastDay: file.lastDay,
    messages: (previous?.messages ?? 0) + done.take,
    updatedAt: new Date().toISOString(),
    pending: null,
  });
}

/**
 * Appends only after the whole new window is fetched (it is in the spool by
 * now), then records state. Newest-first files get the new messages at the
 * top, which means rewriting them (atomically).
 */
async function deliverIncremental(
  done: ChannelDone,
  path: string,
  plan: DumpPlan,
  profile: ResolvedProfile,
  stateDir: string,
  logger: Logger,
): Promise<void> {
  const state = done.job.state;
  if (!state) {
    const summary = summaryOf(done, plan, profile);
    await writeInto(await openAtomic(path), done, plan, profile, 0);
    const { size } = await stat(path);
    await recordState(stateDir, done, path, plan, profile, { size, lastDay: plan.format === 'md' ? lastDayWritten(summary) : null });
    return;
  }
  if (done.take === 0) {
    logger.info(`${done.job.label}: nothing new since ${state.updatedAt}`);
    await done.spool.dispose();
    await clearCheckpoint(done.checkpoints);
    return;
  }
  if (plan.order === 'desc') {
    const old = await readFile(path, 'utf8');
    const handle = await openAtomic(path);
    await writeInto(handle, done, plan, profile, 0, false);
    const rest = plan.format === 'csv' ? old.slice(old.indexOf('\n') + 1) : old;
    handle.stream.write(rest);
    await handle.commit();
    const { size } = await stat(path);
    await recordState(stateDir, done, path, plan, profile, { size, lastDay: null });
    return;
  }
  const start = (await stat(path)).size;
  await writeState(stateDir, done.job.stateName, { ...state, pending: { size: start } });
  const append = { lastDay: state.lastDay };
  const summary = summaryOf(done, plan, profile, append);
  const file = await open(path, 'a');
  const stream = file.createWriteStream();
  try {
    await writeChannel(stream, createSink(plan.format), summary, done.result, {
      format: plan.format,
      skip: done.skip,
      take: done.take,
    });
    stream.end();
    await new Promise<void>((resolve, reject) => {
      stream.once('finish', resolve);
      stream.once('error', reject);
    });
    const reopened = await open(path, 'r');
    await reopened.sync();
    await reopened.close();
  } finally {
    await done.spool.dispose();
    await clearCheckpoint(done.checkpoints);
    if (!stream.closed) stream.destroy();
  }
  const { size } = await stat(path);
  await recordState(stateDir, done, path, plan, profile, { size, lastDay: plan.format === 'md' ? lastDayWritten(summary) : null });
}

function spanOf(done: ChannelDone): { first: string | null; last: string | null } {
  const { oldest, newest } = done.result;
  if (oldest === undefined || newest === undefined || done.take === 0) return { first: null, last: null };
  // With --limit the span starts later than the spool's oldest; the title is approximate only then.
  return { first: new Date(oldest).toISOString(), last: new Date(newest).toISOString() };
}

function walkChannel(provider: Provider, options: WalkOptions): AsyncGenerator<WalkBatch> {
  return provider.paging === 'cursor' ? walkCursor(provider, options) : walkPages(provider, options);
}

/** Starts every job with at most `limit` running; returns one promise per job, in job order. */
function runPool<J, R>(jobs: J[], limit: number, run: (job: J) => Promise<R>): Array<Promise<R>> {
  let active = 0;
  const queue: Array<() => void> = [];
  const next = () => {
    active--;
    queue.shift()?.();
  };
  return jobs.map(
    (job) =>
      new Promise<R>((resolve, reject) => {
        const start = () => {
          active++;
          run(job).then(resolve, reject).finally(next);
        };
        if (active < limit) start();
        else queue.push(start);
      }),
  );
}

interface DumpPlan {
  targets: ChannelTarget[];
  baseUrl: string;
  format: Format;
  output: OutputPlan;
  order: Order;
  window: TimeWindow;
  limit: number | undefined;
  pageSize: number;
}

function validate(options: DumpOptions, profile: ResolvedProfile, provider: Provider, warnings: string[]): DumpPlan {
  const channels = options.channel ?? [];
  const peers = options.peer ?? [];
  if (peers.length > 0 && provider.name !== 'relation') {
    throw new UsageError(`--peer is only for the relation provider (${provider.name} has no direct conversations by peer id)`);
  }
  if (channels.length + peers.length === 0) {
    throw new UsageError('no channel to export', { hint: 'give --channel ID (repeatable)' + (provider.name === 'relation' ? ' or --peer ID' : '') });
  }
  for (const id of [...channels, ...peers]) {
    if (id.trim() === '') throw new UsageError('an empty --channel / --peer id was given');
  }
  const targets: ChannelTarget[] = [
    ...unique(channels).map((id) => ({ id, kind: 'channel' as const })),
    ...unique(peers).map((id) => ({ id, kind: 'peer' as const })),
  ];

  if (!profile.baseUrl) {
    throw new UsageError(`${provider.name} has no default API address: every ${provider.name === 'discuz' ? 'Discuz! Q site is self-hosted' : 'site is different'}`, {
      hint: `give --base-url https://your.site, set CHAT_EXPORT_BASE_URL, or save it in a profile (chat-export profile add NAME --provider ${provider.name} --base-url …)`,
    });
  }
  let base: URL;
  try {
    base = new URL(profile.baseUrl);
  } catch {
    throw new UsageError(`--base-url ${JSON.stringify(redactUrl(profile.baseUrl))} is not a URL`);
  }
  if (base.protocol !== 'https:' && base.protocol !== 'http:') {
    throw new UsageError(`--base-url must be http:// or https://, not ${base.protocol}`);
  }
  if (base.protocol === 'http:' && !isLoopback(base.hostname) && !options.allowInsecure) {
    throw new UsageError(`refusing to send credentials over plain http:// to ${base.host}`, {
      hint: 'use https://, or pass --allow-insecure if you accept that anyone on the network can read the token',
    });
  }
  if (provider.credentials.token === 'required' && !profile.token) {
    throw new UsageError(`${provider.name} needs a token and none was given`, {
      hint: `set CHAT_EXPORT_TOKEN (or the profile's tokenEnv variable), or save one with chat-export profile add`,
    });
  }
  if (provider.credentials.apiKey === 'required' && !profile.apiKey) {
    throw new UsageError(`${provider.name} needs an API key and none was given`, {
      hint: 'set CHAT_EXPORT_API_KEY (or the profile\'s apiKeyEnv variable), or pass --api-key',
    });
  }
  if (provider.credentials.apiKey === 'optional' && !profile.apiKey) {
    warnings.push(`${provider.name}: no API key given (CHAT_EXPORT_API_KEY, --api-key or a profile); the server may refuse the requests`);
  }
  if (profile.timezone !== undefined) {
    try {
      parseZone(profile.timezone);
    } catch (error) {
      throw new UsageError(`--timezone: ${(error as Error).message}`);
    }
  }
  positive('--rate', profile.rate, false);
  positive('--concurrency', profile.concurrency, true);
  positive('--timeout', profile.timeout, true);
  if (!Number.isInteger(profile.retries) || profile.retries < 0) throw new UsageError('--retries must be a whole number, 0 or more');
  if (profile.pageSize !== undefined) positive('--page-size', profile.pageSize, true);
  if (options.limit !== undefined) positive('--limit', options.limit, true);

  const now = Date.now();
  const since = options.since !== undefined ? parseTimeSpec(options.since, '--since', now) : undefined;
  const until = options.until !== undefined ? parseTimeSpec(options.until, '--until', now) : undefined;
  if (since !== undefined && until !== undefined && since >= until) {
    throw new UsageError('--since must be before --until');
  }
  const order = options.order ?? 'asc';
  if (order !== 'asc' && order !== 'desc') throw new UsageError(`--order must be asc or desc, not ${JSON.stringify(order)}`);

  const output = planOutput(profile.output);
  const format = profile.format ?? (output.kind === 'file' ? formatFromPath(output.path) : undefined) ?? 'jsonl';
  if (!(format in FILE_EXTENSIONS)) throw new UsageError(`--format must be jsonl, csv or md, not ${JSON.stringify(format)}`);

  return {
    targets,
    baseUrl: profile.baseUrl,
    format,
    output,
    order,
    window: { since, until, after: undefined },
    limit: options.limit,
    pageSize: profile.pageSize ?? provider.defaultPageSize,
  };
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

function numberFromEnv(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

function printDryRun(
  stdout: NodeJS.WritableStream,
  profile: ResolvedProfile,
  provider: Provider,
  settings: ProviderSettings,
  plan: DumpPlan,
  jobs: ChannelJob[],
): void {
  const first = jobs[0]!;
  const request =
    provider.paging === 'cursor'
      ? provider.buildRequest(settings, first.target, {
          maxCreateAt: plan.window.until !== undefined ? plan.window.until - 1 : Number.MAX_SAFE_INTEGER,
          limit: plan.pageSize,
        })
      : provider.buildRequest(settings, first.target, { number: 1, size: plan.pageSize });
  const headers = Object.fromEntries(
    Object.entries(request.headers).map(([key, value]) => [key, redactHeader(value, profile)]),
  );
  const shown = {
    profile: profile.name,
    provider: profile.provider,
    baseUrl: redactUrl(plan.baseUrl),
    token: profile.token ? redactSecret(profile.token) : null,
    apiKey: profile.apiKey ? redactSecret(profile.apiKey) : null,
    channels: jobs.map((job) => (job.target.kind === 'peer' ? `peer:${job.target.id}` : job.target.id)),
    format: plan.format,
    output: plan.output.kind === 'stdout' ? '-' : plan.output.kind === 'file' ? plan.output.path : `${plan.output.dir}/`,
    order: plan.order,
    since: plan.window.since !== undefined ? new Date(plan.window.since).toISOString() : null,
    until: plan.window.until !== undefined ? new Date(plan.window.until).toISOString() : null,
    limit: plan.limit ?? null,
    pageSize: plan.pageSize,
    rate: profile.rate,
    concurrency: profile.concurrency,
    retries: profile.retries,
    timeout: profile.timeout,
    timezone: profile.timezone ?? null,
    sources: profile.sources,
    firstRequest: { method: 'GET', url: redactUrl(request.url), headers },
  };
  stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
}

function redactHeader(value: string, profile: ResolvedProfile): string {
  let out = value;
  for (const secret of [profile.token, profile.apiKey]) {
    if (secret && out.includes(secret)) out = out.split(secret).join(redactSecret(secret));
  }
  return out;
}

export type { ChannelProgress };
