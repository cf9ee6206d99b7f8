import { clearCheckpoint } from '../checkpoint.js';
import { asLocalIoError } from '../fs-errors.js';
import type { ResolvedProfile } from '../profile/resolve.js';
import type { OutputHandle } from '../sinks/atomic-file.js';
import { createSink } from '../sinks/registry.js';
import type { ChannelSummary, DocumentInfo } from '../sinks/types.js';
import { writeChannel } from '../sinks/write.js';
import type { ChannelDone, DumpPlan } from '../run/types.js';

export async function writeInto(
  handle: OutputHandle,
  done: ChannelDone,
  plan: DumpPlan,
  profile: ResolvedProfile,
  position: number,
  commit = true,
  signal?: AbortSignal,
): Promise<void> {
  try {
    const sink = createSink(plan.format, { excel: plan.excel });
    await writeChannel(
      handle.stream,
      sink,
      { ...summaryOf(done, plan, profile), continues: position > 0 },
      done.result,
      {
        format: plan.format,
        skip: done.skip,
        take: done.take,
        headerless: plan.format === 'csv' && position > 0,
        counter: done.written,
        // A file of its own is a whole document; a shared stream opens one before its first channel
        // and closes it once (closeDocumentOf) after its last.
        openDocument: position === 0 ? documentOf(plan, profile, commit ? [done.job.target.id] : plan.targets.map((t) => t.id)) : undefined,
        closeDocument: commit,
        signal,
      },
    );
    if (commit) await handle.commit();
  } catch (error) {
    if (commit) await handle.abort();
    // Disk full while writing: exit 6 naming the file and the channel; the checkpoint stays (released only after a commit).
    throw asLocalIoError(error, { path: handle.path, label: done.job.label });
  }
}

/** After the output holding a channel is committed: its spool and checkpoint are no longer needed. */
export async function releaseDelivered(done: ChannelDone): Promise<void> {
  await done.spool.dispose();
  await clearCheckpoint(done.checkpoints);
}

export function summaryOf(done: ChannelDone, plan: DumpPlan, profile: ResolvedProfile, append?: ChannelSummary['append']): ChannelSummary {
  return {
    provider: done.job.provider ?? profile.provider,
    channel: done.job.target.id,
    count: done.take,
    ...spanOf(done),
    timezone: plan.displayZone,
    order: plan.order,
    append,
    growing: plan.incremental,
  };
}

function spanOf(done: ChannelDone): { first: string | null; last: string | null } {
  const { oldest, newest } = done.result;
  if (oldest === undefined || newest === undefined || done.take === 0) return { first: null, last: null };
  return { first: new Date(oldest).toISOString(), last: new Date(newest).toISOString() };
}

export function documentOf(plan: DumpPlan, profile: ResolvedProfile, channels: string[]): DocumentInfo {
  return { provider: profile.provider, channels };
}

/** The tail of a document several channels shared (HTML's </body></html>); '' for formats without one. */
export function closeDocumentOf(plan: DumpPlan): string {
  return createSink(plan.format).closeDocument?.() ?? '';
}
