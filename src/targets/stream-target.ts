import { openAtomic, openStdout, type OutputHandle } from '../sinks/atomic-file.js';
import type { ChannelDone, ChannelJob } from '../dump/types.js';
import type { TargetContext } from './context.js';
import { loadIncrementalState, recordState } from './incremental-target.js';
import type { ChannelStart, Target } from './types.js';
import { writeInto } from './write-spooled.js';

/**
 * Every channel into one stream — stdout, or one file replaced atomically at
 * the end — in the order the channels were given. `--incremental` to stdout
 * keeps a state per channel (there is no file to prove anything about).
 */
export function createStreamTarget(ctx: TargetContext, options: { path?: string | undefined; incremental: boolean }): Target {
  let handle: OutputHandle | undefined;
  let written = 0;
  return {
    ordered: true,
    async prepare(job: ChannelJob): Promise<ChannelStart> {
      if (!options.incremental) return {};
      job.state = await loadIncrementalState(ctx.stateDir, job, ctx.plan, ctx.logger);
      return { after: job.state?.newest ?? undefined };
    },
    async deliver(done: ChannelDone): Promise<void> {
      handle ??= options.path === undefined ? openStdout() : await openAtomic(options.path);
      await writeInto(handle, done, ctx.plan, ctx.profile, written, false);
      written++;
      if (options.incremental) await recordState(ctx.stateDir, done, '-', ctx.plan, ctx.profile, { size: 0, lastDay: null });
    },
    async close({ succeeded, interrupted }): Promise<void> {
      if (!handle) return;
      // Never rename an interrupted run's output over an earlier complete one.
      if (succeeded > 0 && !interrupted) await handle.commit();
      else await handle.abort();
    },
  };
}
