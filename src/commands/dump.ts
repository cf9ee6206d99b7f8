import { dirname } from 'node:path';
import { checkpointDir, lockChannel, readCheckpoint } from '../checkpoint.js';
import { numberFromEnv, planDump } from '../dump/plan.js';
import type { ChannelDone, ChannelJob, DumpIo, DumpOptions, DumpPlan } from '../run/types.js';
import { walkChannel, type WalkContext } from '../dump/walk-channel.js';
import { UnreadableError } from '../errors.js';
import { ChatExportError, ExitError, InterruptedError, LocalIoError, PartialError, StdoutClosedError, UsageError } from '../errors.js';
import { asLocalIoError } from '../fs-errors.js';
import { HttpClient } from '../http/client.js';
import { proxyFromEnv } from '../http/proxy.js';
import { createLogger, type Logger, type Verbosity } from '../log.js';
import { loadConfig, resolveConfigPath, resolveStateDir } from '../profile/store.js';
import { resolveProfile, resolveProfileOutput, type ResolvedProfile } from '../profile/resolve.js';
import { getProvider } from '../providers/registry.js';
import type { ChannelTarget, ListedChannel, Provider, ProviderSettings } from '../providers/types.js';
import { outputPathFor } from '../sinks/output-path.js';
import { probeWritableDir, probeWritableFile } from '../sinks/probe-path.js';
import { FILE_EXTENSIONS } from '../sinks/registry.js';
import { outputStateFileName, stateFileName } from '../state.js';
import { chooseTarget } from '../targets/choose.js';
import type { ChannelStart, Target } from '../targets/types.js';
import { registerSecret, sanitizeForTerminal } from '../text/sanitize.js';
import { createProgress, parseStatsInterval, plural } from '../progress.js';
import { loadPeople } from '../dump/people.js';
import { choose, describeChannel, listAll, notListedSince } from '../dump/all-channels.js';

export type { DumpIo, DumpOptions };

/** Messages held in memory per channel before a sorted run spills to disk. */
const RUN_SIZE = 2_000;
/** Spill (and checkpoint) at least this often while a walk brings anything new. */
const CHECKPOINT_EVERY_MS = 5_000;

/** resolve → plan → for each channel: walk → pipeline → target; failures → exit code. */
export async function runDump(options: DumpOptions, io: DumpIo): Promise<void> {
  const verbosity: Verbosity = options.quiet ? 'quiet' : options.verbose ? 'verbose' : 'normal';
  const logger = createLogger(verbosity, io.stderr);
  const resolved = resolveRun(options, io, logger);
  const { profile, provider, plan, settings, stateDir } = resolved;
  // --all-channels: the jobs are the channels the listing gives (below, once the target is open)
  let jobs = resolved.jobs;
  const statsIntervalMs = parseStatsInterval(options.stats ?? '1m');
  if (statsIntervalMs === undefined || (statsIntervalMs > 0 && statsIntervalMs < 100) || statsIntervalMs > 2 ** 31 - 1) {
    throw new UsageError(`--stats: cannot use ${JSON.stringify(options.stats)} as an interval`, { hint: 'use 30s, 1m, 5m (100ms at least), or 0 for none' });
  }
  if (options.dryRun) {
    const { printDryRun } = await import('../dump/dry-run.js');
    await printDryRun(io.stdout, profile, provider, settings, plan, jobs, stateDir);
    return;
  }

  await probePaths(plan, jobs, stateDir, options);
  // Before any lock or request: an archive is opened (and a file that cannot be one refused) here.
  const target = await chooseTarget({ plan, profile, provider, stateDir, logger, signal: io.signal }, { incremental: Boolean(options.incremental), adopt: Boolean(options.adopt) });
  const http = new HttpClient({
    timeoutMs: profile.timeout,
    retries: profile.retries,
    rate: profile.rate,
    logger,
    retryBaseMs: numberFromEnv(io.env.CHAT_EXPORT_RETRY_BASE_MS),
    env: io.env,
  });
  // An archive needs no lock: SQLite serializes its writers, and its walk state is per channel.
  let unlocks: Array<() => Promise<void>>;
  try {
    if (options.allChannels) {
      jobs = await listedJobs({ options, plan, profile, provider, settings, http, logger, stateDir, target, signal: io.signal });
      await probePaths(plan, jobs, stateDir, options);
    }
    unlocks = plan.archive ? [] : await lockJobs(jobs, stateDir, options);
  } catch (error) {
    await target.close({ succeeded: 0, interrupted: true }).catch(() => {});
    await http.close();
    throw error;
  }
  const progress = await createProgress({
    enabled: options.progress !== false && verbosity !== 'quiet' && Boolean(io.stderr.isTTY),
    stream: io.stderr,
    logger,
    statsIntervalMs,
    totalChannels: jobs.length,
  });
  // The media code (and the HTML sink it links pictures with) is loaded only by a run with --media: module loading is most of start-up.
  const mediaRun = plan.media ? await import('../dump/media-run.js') : undefined;
  const opening = mediaRun?.openMediaStage(plan, settings, mediaRun.credentialHeaders(provider, settings, plan.targets[0]!), http, logger, io.signal);
  const media = await (opening ?? Promise.resolve(undefined)).catch(async (error: unknown) => {
    progress.stop();
    await target.close({ succeeded: 0, interrupted: true }).catch(() => {});
    await http.close();
    await Promise.all(unlocks.map((unlock) => unlock()));
    throw error;
  });
  for (const job of jobs) job.media = media?.forChannel(job.path, job.label);
  const started = Date.now();
  const context: WalkContext = {
    options,
    plan,
    profile,
    provider,
    settings,
    http,
    logger,
    progress,
    stateDir,
    runSize: numberFromEnv(io.env.CHAT_EXPORT_RUN_SIZE) ?? RUN_SIZE,
    checkpointEveryMs: numberFromEnv(io.env.CHAT_EXPORT_CHECKPOINT_MS) ?? CHECKPOINT_EVERY_MS,
    signal: io.signal,
  };

  const failures: Array<{ job: ChannelJob; error: unknown }> = [];
  let succeeded = 0;
  let skipped = 0;
  // summary lines of channels a target writes only at close
  const written: Array<() => void> = [];
  let mediaError: ChatExportError | undefined;
  try {
    // Every channel's output and state is proven usable before the first request (exit 2).
    const starts: ChannelStart[] = [];
    for (const job of jobs) starts.push((await target.prepare?.(job)) ?? {});
    // $people: the directory, once per run, before any channel's messages are named from it
    const people = await loadPeople({ provider, settings, http, logger, stateDir, source: `${profile.provider}\0${plan.apiRoot}`, refresh: options.refreshPeople === true, signal: io.signal });
    if (people) await target.people?.(people);
    const walks = runPool(jobs, profile.concurrency, (job) => walkChannel(job, target, starts[job.index]!, context));
    // Failures are collected below; until then they must not count as unhandled.
    for (const promise of walks) promise.catch(() => {});
    const deliver = async (job: ChannelJob, walk: Promise<ChannelDone | undefined>): Promise<void> => {
      let done: ChannelDone | undefined;
      try {
        done = await walk;
        if (done && !target.ordered) await target.deliver(done);
      } catch (error) {
        // A listed channel that turns out not to be readable is skipped and named, never a failure.
        if (job.listed && error instanceof UnreadableError) {
          logger.info(`${job.label}: skipped: not readable with this credential`);
          skipped++;
          return;
        }
        failures.push({ job, error: asLocalIoError(error, { path: job.path, label: job.label }) });
        return;
      }
      // A shared stream broken halfway is the whole run's failure, not one channel's.
      if (done && target.ordered) await target.deliver(done);
      // A target that took the walk's batches itself (no spool) knows no byte count here.
      const line = () =>
        progress.delivered(job.label, {
          path: job.path ?? (plan.output.kind === 'file' ? plan.output.path : 'stdout'),
          bytes: done?.written.shared ? undefined : done?.written.bytes,
          parts: done?.written.parts,
          appended: done?.written.appended,
          counts: target.countsOf?.(job),
        });
      if (target.writesAtClose) written.push(line);
      else line();
      succeeded++;
    };
    if (target.ordered) for (const [index, walk] of walks.entries()) await deliver(jobs[index]!, walk);
    else await Promise.all(walks.map((walk, index) => deliver(jobs[index]!, walk)));
    await target.close({ succeeded, interrupted: Boolean(io.signal?.aborted) });
    for (const line of written) line();
    if (media && mediaRun && !io.signal?.aborted) mediaError = await mediaRun.finishMedia(media, jobs, logger);
  } catch (error) {
    await target.close({ succeeded: 0, interrupted: true }).catch(() => {});
    // Writing to a stdout that was closed or failed, or stopped by a signal: the stop's own reason is what counts.
    if (io.signal?.aborted) throw stopError(io.signal.reason);
    throw asLocalIoError(error, { path: plan.output.kind === 'file' ? plan.output.path : undefined });
  } finally {
    progress.stop();
    // What this run downloaded stays indexed even when it fails.
    if (media) await media.close().catch(() => {});
    await http.close();
    await Promise.all(unlocks.map((unlock) => unlock()));
  }

  if (io.signal?.aborted) throw await interruptedError(io.signal.reason, plan, jobs);
  reportOutcome(failures, succeeded, jobs, logger, { requests: http.stats, started, skipped });
  // Every channel written, some files missing: the causes are on stderr already.
  if (mediaError) throw new ExitError(mediaError.exitCode);
}

/** The error a run stopped by a signal (or a closed stdout) ends with: what was kept, and how to continue. */
async function interruptedError(reason: unknown, plan: DumpPlan, jobs: ChannelJob[]): Promise<ChatExportError> {
  // A closed stdout (141) or a failed one (6) ends the run with its own code, quietly for 141.
  if (reason instanceof ChatExportError && !(reason instanceof InterruptedError)) return reason;
  const signal = reason instanceof InterruptedError ? reason.signal : 'SIGINT';
  if (plan.archive) {
    return new InterruptedError(`interrupted by ${signal}; every page fetched so far is in ${plan.archive.path}`, {
      signal,
      hint: 'run the same command again to continue where it stopped',
    });
  }
  // A channel whose output was committed has cleared its checkpoint: what is left is what --resume can use.
  const saved: ChannelJob[] = [];
  for (const job of jobs) if (await readCheckpoint(job.checkpoints)) saved.push(job);
  return new InterruptedError(
    saved.length > 0
      ? `interrupted by ${signal}; checkpoints saved for ${saved.map((job) => job.label).join(', ')}`
      : `interrupted by ${signal} before any checkpoint was saved; nothing was written for channels still in progress`,
    { signal, hint: saved.length > 0 ? 'run the same command with --resume to continue' : 'run the same command again' },
  );
}

/** Failed channels and messages known missing, named on stderr; then the exit they make (4/5/…), if any. */
function reportOutcome(
  failures: Array<{ job: ChannelJob; error: unknown }>,
  succeeded: number,
  jobs: ChannelJob[],
  logger: Logger,
  run: { requests: { requests: number; retries: number }; started: number; skipped?: number },
): void {
  failures.sort((a, b) => a.job.index - b.job.index);
  for (const { error } of failures) reportFailure(logger, error);
  const incomplete = jobs.filter((job) => job.missing.length > 0 && !failures.some((f) => f.job === job));
  for (const job of incomplete) {
    for (const { reason, count } of job.missing) {
      const how = count > 0 ? `${count} message${count === 1 ? '' : 's'} missing` : 'how many are missing is unknown';
      logger.error(`${job.label}: ${reason} (${how}) — everything else was written; run again later, or ask the server's operator`);
    }
  }
  const seconds = ((Date.now() - run.started) / 1000).toFixed(1);
  logger.debug(`${plural(run.requests.requests, 'request')}, ${plural(run.requests.retries, 'retry', 'retries')} in ${seconds} s`);
  // channels skipped as unreadable are neither written nor failed
  throwForFailures(failures, succeeded, jobs.length - (run.skipped ?? 0));
  if (incomplete.length > 0) {
    throw new PartialError(`${incomplete.length} of ${jobs.length} channels are incomplete: messages known missing are named above`, {
      hint: 'the output holds everything the server returned',
    });
  }
}

interface ResolvedRun {
  profile: ResolvedProfile;
  provider: Provider;
  plan: DumpPlan;
  settings: ProviderSettings;
  stateDir: string;
  jobs: ChannelJob[];
}

/** Flags, environment and profile into a checked plan, one job per channel; nothing is sent yet. */
function resolveRun(options: DumpOptions, io: DumpIo, logger: Logger): ResolvedRun {
  const configPath = resolveConfigPath(options.config, io.env);
  const config = loadConfig(configPath, (line) => logger.warn(line));
  const profile = resolveProfileOutput(
    resolveProfile(options.provider, options, io.env, config, (name) => ({ baseUrl: getProvider(name, config.providers ?? {}).defaultBaseUrl })),
    configPath,
  );
  registerSecret(profile.token);
  registerSecret(profile.apiKey);
  const provider = getProvider(profile.provider, config.providers ?? {});
  const warnings: string[] = [];
  const plan = planDump(options, profile, provider, warnings);
  for (const line of warnings) logger.warn(line);
  // A proxy variable that cannot be used is a usage error now, before locks and requests.
  proxyFromEnv(io.env);

  const settings: ProviderSettings = {
    baseUrl: plan.baseUrl,
    token: profile.token,
    apiKey: profile.apiKey,
    timezone: profile.timezone,
    // an archive always keeps the provider's original object
    raw: Boolean(options.raw) || plan.archive !== undefined,
  };
  const stateDir = resolveStateDir(options.stateDir, configPath, logger);
  const jobs = buildJobs(plan, profile, plan.targets.map((target) => ({ target })));
  // An archive is incremental by itself: --incremental asks for nothing more there.
  if (options.incremental && !plan.archive) {
    if (plan.output.kind === 'file' && jobs.length > 1) {
      throw new UsageError('--incremental with several channels needs an output directory (-o dir/) or stdout', {
        hint: 'each channel keeps its own file and state',
      });
    }
    if (plan.format === 'html') {
      throw new UsageError('--incremental does not apply to HTML: a page is one document with its header and count', {
        hint: 'export HTML without --incremental (or keep an incremental JSONL / archive and render HTML from it)',
      });
    }
    if (plan.format === 'md' && plan.order === 'desc') {
      throw new UsageError('--incremental Markdown transcripts grow at the end: use --order asc');
    }
  }
  return { profile, provider, plan, settings, stateDir, jobs };
}

/** One job per channel: its label, output path, state names; two channels into one file are exit 2. */
export function buildJobs(plan: DumpPlan, profile: ResolvedProfile, channels: Array<{ target: ChannelTarget; name?: string | undefined; listed?: ListedChannel | undefined }>): ChannelJob[] {
  const host = new URL(plan.apiRoot).host;
  const jobs: ChannelJob[] = channels.map(({ target, name, listed }, index) => ({
    index,
    target,
    ...(listed ? { listed: { name: listed.name } } : {}),
    // Labels reach the terminal raw through progress bars: a channel id must not carry escapes there.
    label: sanitizeForTerminal(`${profile.provider} ${target.kind === 'peer' ? 'peer' : 'channel'} ${target.id}${listed?.name ? ` (${listed.name})` : ''}`),
    path: outputPathFor(plan.output, {
      profile: profile.name,
      provider: profile.provider,
      host,
      channel: target.id,
      name,
      peer: target.kind === 'peer',
      ext: FILE_EXTENSIONS[plan.format],
    }),
    stateName: stateFileName(profile.name, target.kind, target.id, plan.apiRoot),
    legacyStateName: stateFileName(profile.name, target.kind, target.id, plan.baseUrl),
    outputStateName: '',
    checkpoints: '',
    state: undefined,
    missing: [],
  }));
  for (const job of jobs) job.outputStateName = outputStateFileName(profile.name, job.target, plan.apiRoot, job.path);
  if (plan.output.kind === 'directory' || plan.output.kind === 'template') {
    // One file, one source: two channels into one file would overwrite (or interleave) each other.
    const owners = new Map<string, ChannelJob>();
    for (const job of jobs) {
      const other = owners.get(job.path!);
      if (other) {
        throw new UsageError(`${other.label} and ${job.label} would both be written to ${job.path}`, {
          hint: 'use a template with {channel} (and {host} or {profile} across sites), or one run per channel',
        });
      }
      owners.set(job.path!, job);
    }
  }
  return jobs;
}

/**
 * `--all-channels`: the listing (the same walkers, rate limits and retries as messages), the channels chosen
 * from it, unreadable ones and ones no longer listed named on stderr, the list recorded (the archive's
 * `channels` table, else a file in the state directory); one job per chosen channel.
 */
async function listedJobs(run: {
  options: DumpOptions;
  plan: DumpPlan;
  profile: ResolvedProfile;
  provider: Provider;
  settings: ProviderSettings;
  http: HttpClient;
  logger: Logger;
  stateDir: string;
  target: Target;
  signal?: AbortSignal | undefined;
}): Promise<ChannelJob[]> {
  const { options, plan, profile, provider, logger } = run;
  const listed = await listAll({ provider, settings: run.settings, http: run.http, logger, pageSize: undefined, concurrency: profile.concurrency, signal: run.signal });
  const gone = run.target.recordChannels ? await run.target.recordChannels(listed) : await notListedSince(run.stateDir, profile.name, plan.apiRoot, listed);
  for (const channel of gone) logger.info(`${profile.provider}: ${describeChannel(channel)} is no longer listed; its backup is kept`);
  const { chosen, names } = choose(listed, { include: options.include ?? [], exclude: options.exclude ?? [], kinds: options.kind ?? [] }, logger, profile.provider);
  if (options.incremental && !plan.archive && plan.output.kind === 'file' && chosen.length > 1) {
    throw new UsageError('--incremental with several channels needs an output directory (-o dir/) or stdout', { hint: 'each channel keeps its own file and state' });
  }
  plan.targets = chosen.map((c) => ({ id: c.id, kind: 'channel' }));
  return buildJobs(plan, profile, chosen.map((c) => ({ target: { id: c.id, kind: 'channel' as const }, name: names.get(c.id), listed: c })));
}

/** Output, state and media paths are tried before the first request: exit 2 naming the path (DESIGN.md section 5). */
async function probePaths(plan: DumpPlan, jobs: ChannelJob[], stateDir: string, options: DumpOptions): Promise<void> {
  if (plan.output.kind === 'file') await probeWritableFile(plan.output.path, '--output');
  else if (plan.output.kind === 'directory') await probeWritableDir(plan.output.dir, '--output');
  else if (plan.output.kind === 'template') {
    // Each channel's own directory: `backups/{host}/{channel}.jsonl` may name several.
    for (const dir of new Set(jobs.map((job) => dirname(job.path!)))) await probeWritableDir(dir, '--output');
  }
  await probeWritableDir(stateDir, options.stateDir ? '--state-dir' : 'state directory');
  if (plan.media) await probeWritableDir(plan.media.dir, '--media-dir');
}

/** How a stopped run ends: the signal's 128+N, 141 for a closed stdout, 6 for a stdout that failed. */
function stopError(reason: unknown): ChatExportError {
  if (reason instanceof StdoutClosedError) return reason;
  if (reason instanceof ChatExportError && !(reason instanceof InterruptedError)) return reason;
  const signal = reason instanceof InterruptedError ? reason.signal : 'SIGINT';
  return new InterruptedError(`interrupted by ${signal}; nothing was written for channels still in progress; their checkpoints are saved`, {
    signal,
    hint: 'run the same command with --resume to continue',
  });
}

/** Takes every channel's lock before anything is sent; a plain export beside a running one spools privately. */
async function lockJobs(jobs: ChannelJob[], stateDir: string, options: DumpOptions): Promise<Array<() => Promise<void>>> {
  const unlocks: Array<() => Promise<void>> = [];
  try {
    for (const job of jobs) {
      const lock = await lockChannel(stateDir, job.stateName);
      job.checkpoints = checkpointDir(stateDir, job.stateName);
      if ('release' in lock) {
        unlocks.push(lock.release);
      } else if (options.incremental || options.resume) {
        throw new UsageError(`${job.label}: another chat-export (pid ${lock.holder}) is exporting it with the same profile`, {
          hint: 'wait for it to finish: its state and checkpoint are in use',
        });
      } else {
        // A plain export needs no shared state: it spools and checkpoints privately.
        job.checkpoints += `-${process.pid}`;
      }
    }
  } catch (error) {
    await Promise.all(unlocks.map((unlock) => unlock()));
    throw error;
  }
  return unlocks;
}

/** The run's exit code from its failed channels. */
function throwForFailures(failures: Array<{ job: ChannelJob; error: unknown }>, succeeded: number, total: number): void {
  if (failures.length === 0) return;
  // A full disk or a read-only mount is the user's to fix before any rerun can help, whatever else failed: its 6
  // outranks "some channels failed" (5) and a mix of remote causes (4).
  const local = failures.some(({ error }) => error instanceof LocalIoError);
  if (succeeded > 0) {
    throw new (local ? LocalIoError : PartialError)(
      `${failures.length} of ${total} channels failed (${failures.map((f) => f.job.target.id).join(', ')}); the others were written`,
      { hint: 'fix the causes above and run again for the failed channels' },
    );
  }
  if (local) throw new ExitError(6);
  const codes = new Set(failures.map(({ error }) => (error instanceof ChatExportError ? error.exitCode : 1)));
  const first = failures[0]!.error;
  if (codes.size === 1 && first instanceof ChatExportError) throw new ExitError(first.exitCode);
  throw new ExitError(4);
}

function reportFailure(logger: Logger, error: unknown): void {
  if (error instanceof ChatExportError) {
    logger.error(error.hint ? `${error.message} — ${error.hint}` : error.message);
  } else {
    logger.error(error instanceof Error ? error.message : String(error));
  }
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
