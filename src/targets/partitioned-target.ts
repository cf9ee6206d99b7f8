import type { ChannelDone } from '../dump/types.js';
import { deliverPartitioned } from '../dump/partitioned.js';
import type { TargetContext } from './context.js';
import type { Target } from './types.js';

/**
 * --partition N: each output file becomes parts of at most N messages
 * (sinks/partition.ts). With a directory, a channel's parts are written as
 * soon as it is walked; with one file for every channel, the parts are
 * counted over all of them, so the channels wait (in their spools, on disk)
 * until close.
 */
export function createPartitionedTarget(ctx: TargetContext): Target {
  const { output } = ctx.plan;
  const held: ChannelDone[] = [];
  return {
    ordered: output.kind !== 'directory',
    writesAtClose: output.kind === 'file',
    async deliver(done) {
      if (output.kind === 'directory') await deliverPartitioned(done.job.path!, [done], ctx.plan, ctx.profile, ctx.logger, ctx.signal);
      else held.push(done);
    },
    async close({ succeeded, interrupted }) {
      const dones = held.splice(0);
      if (output.kind !== 'file' || dones.length === 0) return;
      if (succeeded > 0 && !interrupted && !ctx.signal?.aborted) await deliverPartitioned(output.path, dones, ctx.plan, ctx.profile, ctx.logger, ctx.signal);
      else for (const done of dones) await done.spool.dispose();
    },
  };
}
