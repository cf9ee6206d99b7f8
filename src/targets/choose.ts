import { createArchiveTarget } from './archive-target.js';
import type { TargetContext } from './context.js';
import { createFileTarget } from './file-target.js';
import { createIncrementalTarget } from './incremental-target.js';
import { createPartitionedTarget } from './partitioned-target.js';
import { createStreamTarget } from './stream-target.js';
import type { Target } from './types.js';

/** The one target of a run, from its plan. */
export function chooseTarget(ctx: TargetContext, options: { incremental: boolean; adopt: boolean }): Target {
  const { output } = ctx.plan;
  if (ctx.plan.archive) return createArchiveTarget(ctx, ctx.plan.archive);
  // planDump refuses --partition with --incremental and with stdout.
  if (ctx.plan.partition !== undefined) return createPartitionedTarget(ctx);
  if (output.kind === 'stdout') return createStreamTarget(ctx, { incremental: options.incremental });
  if (options.incremental) return createIncrementalTarget(ctx, { adopt: options.adopt });
  if (output.kind === 'file') return createStreamTarget(ctx, { path: output.path, incremental: false });
  return createFileTarget(ctx);
}
