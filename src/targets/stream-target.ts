import { openAtomic, openStdout, type OutputHandle } from '../sinks/atomic-file.js';
import type { ChannelDone, ChannelJob } from '../dump/types.js';
import type { TargetContext } from './context.js';
import { loadStreamState, recordState, startOf } from './incremental-target.js';
import type { ChannelStart, Target } from './types.js';
import { writeChunk } from '../sinks/write.js';
import { closeDocumentOf, releaseDelivered, writeInto } from './write-spooled.js';

/**
 * Every channel into one stream — stdout, or one file replaced atomically at
 * the end — in the order the channels were given. Checkpoints are cleared
 * only once the whole output is committed: an interrupted final write keeps
 * them. `--incremental` to stdout keeps a state per channel, recorded once
 * its messages are on their way (there is no file to prove anything about).
 */
export function createStreamTarget(ctx: TargetContext, options: { path?: string | undefined; incremental: boolean }): Target {
  let handle: OutputHandle | undefined;
  const delivered: ChannelDone[] = [];
  return {
    ordered: true,
    async prepare(job: ChannelJob): Promise<ChannelStart> {
      if (!options.incremental) return {};
      job.state = await loadStreamState(ctx, job);
      return startOf(job.state);
    },
    async deliver(done: ChannelDone): Promise<void> {
      handle ??= options.path === undefined ? openStdout() : await openAtomic(options.path);
      await writeInto(handle, done, ctx.plan, ctx.profile, delivered.length, false);
      delivered.push(done);
      if (options.incremental) await recordState(ctx, done, '-', { size: 0, lastDay: null });
    },
    async close({ succeeded, interrupted }): Promise<void> {
      if (!handle) return;
      // Never rename an interrupted run's output over an earlier complete one.
      if (succeeded > 0 && !interrupted) {
        // One document for every channel (HTML): its tail once, after the last.
        const tail = closeDocumentOf(ctx.plan);
        if (tail) await writeChunk(handle.stream, tail);
        await handle.commit();
        for (const done of delivered) await releaseDelivered(done);
      } else {
        await handle.abort();
      }
    },
  };
}
