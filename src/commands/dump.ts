import { join } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { checkpointDir, clearCheckpoint, lockChannel, readCheckpoint, saveCheckpoint } from '../checkpoint.js';
import { printDryRun } from '../dump/dry-run.js';
import { deliverIncremental, loadIncrementalState, recordState } from '../dump/incremental.js';
import { numberFromEnv, planDump } from '../dump/plan.js';
import type { ChannelDone, ChannelJob, DumpIo, DumpOptions } from '../dump/types.js';
import { writeInto } from '../dump/write-output.js';
import { ChatExportError, ExitError, InterruptedError, PartialError, StdoutClosedError, UsageError } from '../errors.js';
import { asLocalIoError } from '../fs-errors.js';
import { HttpClient } from '../http/client.js';
import { createLogger, type Logger, type Verbosity } from '../log.js';
import { Spool } from '../pipeline/order.js';
import { createHeapGuard } from '../pipeline/heap-guard.js';
import { inWindow, passedWindow } from '../pipeline/window.js';
import { defaultStateDir, loadConfig, resolveConfigPath } from '../profile/store.js';
import { resolveProfile } from '../profile/resolve.js';
import { PROVIDERS, getProvider } from '../providers/registry.js';
import type { Provider, ProviderSettings } from '../providers/types.js';
import { openAtomic, openStdout, type OutputHandle } from '../sinks/atomic-file.js';
import { channelFilePath } from '../sinks/output-path.js';
import { probeWritableDir, probeWritableFile } from '../sinks/probe-path.js';
import { FILE_EXTENSIONS } from '../sinks/registry.js';
import { spoolCodecFor } from '../sinks/spool-codec.js';
import { stateFileName } from '../state.js';
import { registerSecret, sanitizeForTerminal } from '../text/sanitize.js';
import { walkCursor } from '../walk/cursor.js';
import { walkPages } from '../walk/pages.js';
import type { WalkBatch, WalkOptions } from '../walk/types.js';
import { createProgress } from '../progress.js';

export type { DumpIo, DumpOptions };

/** Messages held in memory per channel before a sorted run spills to disk. */
const RUN_SIZE = 2_000;

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
  const plan = planDump(options, profile, provider, warnings);
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
    // Labels reach the terminal raw through progress bars: a channel id must not carry escapes there.
    label: sanitizeForTerminal(`${profile.provider} ${target.kind === 'peer' ? 'peer' : 'channel'} ${target.id}`),
    path:
      plan.output.kind === 'directory'
        ? channelFilePath(plan.output.dir, profile.provider, target.id, FILE_EXTENSIONS[plan.format])
        : plan.output.kind === 'file'
          ? plan.output.path
          : undefined,
    stateName: stateFileName(profile.name, target.kind, target.id, plan.baseUrl),
    checkpoints: '',
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

  if (plan.output.kind === 'file') await probeWritableFile(plan.output.path, '--output');
  else if (plan.output.kind === 'directory') await probeWritableDir(plan.output.dir, '--output');
  await probeWritableDir(stateDir, options.stateDir ? '--state-dir' : 'state directory');

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

  const http = new HttpClient({
    timeoutMs: profile.timeout,
    retries: profile.retries,
    rate: profile.rate,
    logger,
    retryBaseMs: numberFromEnv(io.env.CHAT_EXPORT_RETRY_BASE_MS),
  });
  const progress = await createProgress({
    enabled: options.progress !== false && verbosity !== 'quiet' && Boolean(io.stderr.isTTY),
    stream: io.stderr,
    logger,
  });
  const started = Date.now();

  const keepHeapSmall = createHeapGuard();
  const walkOne = async (job: ChannelJob): Promise<ChannelDone> => {
    let window = plan.window;
    if (options.incremental) {
      job.state = await loadIncrementalState(stateDir, job, plan, logger);
      const newest = job.state?.newest;
      if (newest) window = { ...window, after: { time: newest.time, ids: new Set(newest.ids) } };
    }
    const checkpoints = job.checkpoints;
    const key = JSON.stringify({
      profile: profile.name,
      channel: job.target,
      since: options.since ?? null,
      until: options.until ?? null,
      after: window.after?.time ?? null,
      limit: plan.limit ?? null,
      order: plan.order,
      // the spool holds format-specific lines (spool-codec.ts)
      format: plan.format,
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
    const codec = spoolCodecFor(plan.format);
    const spool = new Spool(
      join(checkpoints, 'spool'),
      plan.order,
      numberFromEnv(io.env.CHAT_EXPORT_RUN_SIZE) ?? RUN_SIZE,
      resumed?.runs ?? [],
      undefined,
      codec.keyOf,
    );
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
          spool.add(entry.time, entry.message.id, codec.encode(entry.message));
          kept++;
          if (!newest || entry.time > newest.time) newest = { time: entry.time, ids: [entry.message.id] };
          else if (entry.time === newest.time) newest.ids.push(entry.message.id);
        }
        bar.update(batch, kept);
        keepHeapSmall();
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
    } catch (caught) {
      const error = asLocalIoError(caught, { label: job.label });
      bar.fail();
      // Keep what is on disk for --resume; a walk that spilled nothing, or spooled
      // privately beside a concurrent run, has nothing --resume could find.
      if (spool.spilled.length === 0 || checkpoints !== checkpointDir(stateDir, job.stateName)) await clearCheckpoint(checkpoints);
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
            else await writeInto(await openAtomic(job.path!), done, plan, profile, 0, true, io.signal);
            succeeded++;
          } catch (error) {
            failures.push({ job, error: asLocalIoError(error, { path: job.path, label: job.label }) });
          }
        }),
      );
    } else if (options.incremental && plan.output.kind === 'file') {
      const job = jobs[0]!;
      try {
        await deliverIncremental(await pending[0]!, job.path!, plan, profile, stateDir, logger);
        succeeded++;
      } catch (error) {
        failures.push({ job, error: asLocalIoError(error, { path: job.path, label: job.label }) });
      }
    } else {
      // One stream for every channel: written in the order the channels were given.
      let handle: OutputHandle | undefined;
      let written = 0;
      try {
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
          await writeInto(handle, done, plan, profile, written, false, io.signal);
          written++;
          succeeded++;
          if (options.incremental) {
            // A reader that went away (EPIPE) is only known once the write is flushed: no state before that.
            await flushed(handle.stream);
            if (io.signal?.aborted) break;
            await recordState(stateDir, done, '-', plan, profile, { size: 0, lastDay: null });
          }
        }
      } catch (error) {
        // No temp file survives a failed or stopped write (disk full, a signal).
        await handle?.abort();
        throw plan.output.kind === 'file' ? asLocalIoError(error, { path: plan.output.path }) : error;
      }
      if (handle) {
        // Never rename an interrupted run's output over an earlier complete one.
        if (succeeded > 0 && !io.signal?.aborted) await handle.commit().catch(async (error: unknown) => {
          await handle.abort();
          throw asLocalIoError(error, { path: handle.path });
        });
        else await handle.abort();
      }
    }
  } catch (error) {
    // Writing to a stdout that was closed or failed, or stopped by a signal: the stop's own reason is what counts.
    if (io.signal?.aborted) throw stopError(io.signal.reason);
    throw error;
  } finally {
    progress.stop();
    await http.close();
    await Promise.all(unlocks.map((unlock) => unlock()));
  }

  if (io.signal?.aborted) throw stopError(io.signal.reason);
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

function stopError(reason: unknown): ChatExportError {
  if (reason instanceof StdoutClosedError) return reason;
  if (reason instanceof ChatExportError && !(reason instanceof InterruptedError)) return reason;
  const signal = reason instanceof InterruptedError ? reason.signal : 'SIGINT';
  return new InterruptedError(`interrupted by ${signal}; nothing was written for channels still in progress; their checkpoints are saved`, {
    signal,
    hint: 'run the same command with --resume to continue',
  });
}

/** Resolves once everything written so far has left the process (or the stream failed). */
function flushed(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    if ((stream as { destroyed?: boolean }).destroyed) return resolve();
    stream.write('', () => resolve());
  });
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
