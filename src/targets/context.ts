import type { DumpPlan } from '../run/types.js';
import type { Logger } from '../log.js';
import type { ResolvedProfile } from '../profile/resolve.js';
import type { Provider } from '../providers/types.js';

/** What every target is built from. */
export interface TargetContext {
  plan: DumpPlan;
  profile: ResolvedProfile;
  /** the provider walked (a dump); convert has none */
  provider?: Provider | undefined;
  stateDir: string;
  logger: Logger;
  /** set once the run is interrupted: shared outputs are then not committed */
  signal?: AbortSignal | undefined;
}
