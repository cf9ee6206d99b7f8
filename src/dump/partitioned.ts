import { mkdir, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { clearCheckpoint } from '../checkpoint.js';
import { asLocalIoError } from '../fs-errors.js';
import type { Logger } from '../log.js';
import type { ResolvedProfile } from '../profile/resolve.js';
import { partCount, removeStaleParts, writePartitioned, type PartitionChannel } from '../sinks/partition.js';
import type { ChannelDone, DumpPlan } from './types.js';
import { summaryOf } from '../targets/write-spooled.js';

/**
 * --partition: the channels' spooled messages into parts of at most
 * `plan.partition` messages beside `path` (sinks/partition.ts), then the
 * spools and checkpoints are dropped, as after any delivered output.
 */
export async function deliverPartitioned(
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
