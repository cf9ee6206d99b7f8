import type { TargetContext } from './context.js';
import { createFileTarget } from './file-target.js';
import { createIncrementalTarget } from './incremental-target.js';
import { createStreamTarget } from './stream-target.js';
import type { Target } from './types.js';

/** The one target of a run, from its plan. */
export function chooseTarget(ctx: TargetContext, options: { incremental: boolean }): Target {
  const { output } = ctx.plan;
  if (output.kind === 'directory') return options.incremental ? createIncrementalTarget(ctx) : createFileTarget(ctx);
  if (output.kind === 'file' && options.incremental) return createIncrementalTarget(ctx);
  return createStreamTarget(ctx, { path: output.kind === 'file' ? output.path : undefined, incremental: options.incremental });
}
