import { openAtomic, openStdout, type OutputHandle } from '../sinks/atomic-file.js';
import type { ChannelDone, ChannelJob } from '../run/types.js';
import type { TargetContext } from './context.js';
import { loadStreamState, recordState, startOf } from './incremental-target.js';
import type { ChannelStart, Target } from './types.js';
import { writeChunk } from '../sinks/write.js';
import { closeDocumentOf, releaseDelivered, writeInto } from './write-spooled.js';
import { asLocalIoError } from '../fs-errors.js';

/** Resolves once everything written so far has left the process (or the stream failed). */
function flushed(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    if ((stream as { destroyed?: boolean }).destroyed) return resolve();
    stream.write('', () => resolve());
  });
}

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
      await writeInto(handle, done, ctx.plan, ctx.profile, delivered.length, false, ctx.signal);
      delivered.push(done);
      if (options.incremental) {
        // A reader that went away (EPIPE, `| head`) is only known once the write is flushed: no state before.
        await flushed(handle.stream);
        if (ctx.signal?.aborted) return;
        await recordState(ctx, done, '-', { size: 0, lastDay: null });
      }
    },
    async close({ succeeded, interrupted }): Promise<void> {
      if (!handle) return;
      const current = handle;
      // Never rename an interrupted run's output over an earlier complete one.
      if (succeeded > 0 && !interrupted && !ctx.signal?.aborted) {
        try {
          // One document for every channel (HTML): its tail once, after the last.
          const tail = closeDocumentOf(ctx.plan);
          if (tail) await writeChunk(current.stream, tail, ctx.signal);
          await current.commit();
        } catch (error) {
          // A full disk at the tail, the last flush or the rename: no temp file survives it.
          await current.abort();
          throw asLocalIoError(error, { path: current.path });
        }
        for (const done of delivered) await releaseDelivered(done);
      } else await current.abort();
    },
  };
}
