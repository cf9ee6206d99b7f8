import { mkdir, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { clearCheckpoint } from '../checkpoint.js';
import { asLocalIoError } from '../fs-errors.js';
import type { Logger } from '../log.js';
import type { ResolvedProfile } from '../profile/resolve.js';
import type { ChannelDone, DumpPlan } from '../run/types.js';
import { partCount, removeStaleParts, writePartitioned, type PartitionChannel } from '../sinks/partition.js';
import type { TargetContext } from './context.js';
import type { Target } from './types.js';
import { summaryOf } from './write-spooled.js';

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

/**
 * --partition: the channels' spooled messages into parts of at most
 * `plan.partition` messages beside `path` (sinks/partition.ts), then the
 * spools and checkpoints are dropped, as after any delivered output.
 */
async function deliverPartitioned(
  path: string,
  dones: ChannelDone[],
  plan: DumpPlan,
  profile: ResolvedProfile,
  logger: Logger,
  signal?: AbortSignal,
): Promise<void> {
  const size = plan.partition!;
  try {
    const channels: PartitionChannel[] = dones.map((done) => ({
      summary: summaryOf(done, plan, profile),
      result: done.result,
      skip: done.skip,
      take: done.take,
    }));
    await mkdir(dirname(path), { recursive: true });
    const written = await writePartitioned(path, channels, { format: plan.format, size, provider: profile.provider, signal });
    let bytes = 0;
    for (const part of written) bytes += (await stat(part)).size;
    for (const done of dones) done.written = { bytes, parts: written.length, shared: dones.length > 1 };
    const total = dones.reduce((sum, done) => sum + done.take, 0);
    for (const stale of await removeStaleParts(path, partCount(total, size))) {
      logger.info(`removed ${basename(stale)}: a part an earlier export of ${basename(path)} had beyond this one's ${written.length}`);
    }
  } catch (error) {
    // Disk full while writing the parts: exit 6 naming them; the spools and checkpoints stay for --resume.
    throw asLocalIoError(error, { path, label: dones.map((done) => done.job.label).join(', ') });
  }
  for (const done of dones) {
    await done.spool.dispose();
    await clearCheckpoint(done.checkpoints);
  }
}
