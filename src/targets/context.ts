import type { DumpPlan } from '../run/types.js';
import type { Logger } from '../log.js';
import type { ResolvedProfile } from '../profile/resolve.js';

/** What every target is built from. */
export interface TargetContext {
  plan: DumpPlan;
  profile: ResolvedProfile;
  stateDir: string;
  logger: Logger;
  /** set once the run is interrupted: shared outputs are then not committed */
  signal?: AbortSignal | undefined;
}
