import { loadSink } from '../sinks/registry.js';
import type { TargetContext } from './context.js';
import type { Target } from './types.js';

/**
 * The one target of a run, from its plan. Each target's code (the archive's
 * schema, --adopt's CSV reader, partitioning) is imported only by the run that
 * writes to it: module loading is most of a run's start-up.
 */
export async function chooseTarget(ctx: TargetContext, options: { incremental: boolean; adopt: boolean }): Promise<Target> {
  const { output } = ctx.plan;
  await loadSink(ctx.plan.format);
  if (ctx.plan.archive) return (await import('./archive-target.js')).createArchiveTarget(ctx, ctx.plan.archive);
  // planDump refuses --partition with --incremental and with stdout.
  if (ctx.plan.partition !== undefined) return (await import('./partitioned-target.js')).createPartitionedTarget(ctx);
  if (output.kind === 'stdout') return (await import('./stream-target.js')).createStreamTarget(ctx, { incremental: options.incremental });
  if (options.incremental) return (await import('./incremental-target.js')).createIncrementalTarget(ctx, { adopt: options.adopt });
  if (output.kind === 'file') return (await import('./stream-target.js')).createStreamTarget(ctx, { path: output.path, incremental: false });
  return (await import('./file-target.js')).createFileTarget(ctx);
}
