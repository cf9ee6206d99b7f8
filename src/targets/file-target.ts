import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { openAtomic } from '../sinks/atomic-file.js';
import type { ChannelDone } from '../run/types.js';
import type { TargetContext } from './context.js';
import type { Target } from './types.js';
import { releaseDelivered, writeInto } from './write-spooled.js';

/** One file per channel, each replaced atomically once its channel is complete; its checkpoint goes only then. */
export function createFileTarget(ctx: TargetContext): Target {
  return {
    ordered: false,
    async deliver(done: ChannelDone): Promise<void> {
      const path = done.job.path!;
      await mkdir(dirname(path), { recursive: true });
      await writeInto(await openAtomic(path), done, ctx.plan, ctx.profile, 0, true, ctx.signal);
      await releaseDelivered(done);
    },
    async close(): Promise<void> {},
  };
}
