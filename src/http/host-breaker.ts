/**
 * Hosts that stop being tried for the rest of a run. Media URLs name many
 * hosts, some long gone: retried five times with backoff each, one dead CDN
 * turned a 1-second export into minutes (issue 26). A host whose name does not
 * resolve or that refuses connections is noticed at its first failure; one
 * that times out, at its second. Every later file there fails at once (and is
 * tried again by the next run), and the run goes on at full speed.
 */

export type HostFailureKind = 'dns' | 'unreachable' | 'timeout';

/** Timeouts on one host before it is given up for the run. */
export const TIMEOUTS_BEFORE_DOWN = 2;

export interface DownHost {
  host: string;
  reason: string;
  /** files not tried because of it */
  skipped: number;
}

export class HostBreaker {
  private readonly timeouts = new Map<string, number>();
  private readonly down = new Map<string, DownHost>();

  constructor(private readonly onDown: (host: DownHost) => void = () => {}) {}

  /** Why `host` is no longer tried this run, counting the file that asked; undefined while it still is. */
  skip(host: string): string | undefined {
    const entry = this.down.get(host);
    if (!entry) return undefined;
    entry.skipped++;
    return `not tried: ${host} was unreachable earlier in this run (${entry.reason})`;
  }

  /** An attempt on `host` failed at the network level; returns whether the host is now given up. */
  failed(host: string, kind: HostFailureKind, reason: string): boolean {
    if (this.down.has(host)) return true;
    if (kind === 'timeout') {
      const count = (this.timeouts.get(host) ?? 0) + 1;
      this.timeouts.set(host, count);
      if (count < TIMEOUTS_BEFORE_DOWN) return false;
    }
    const entry: DownHost = { host, reason, skipped: 0 };
    this.down.set(host, entry);
    this.onDown(entry);
    return true;
  }

  /** The hosts given up so far, in the order they were. */
  list(): DownHost[] {
    return [...this.down.values()];
  }
}

/** What kind of network failure `error` is, when it says the host itself cannot be reached. */
export function hostFailureKind(error: unknown): HostFailureKind | undefined {
  for (let e: unknown = error, depth = 0; e && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_FAIL' || code === 'EAI_NODATA' || code === 'EAI_NONAME') return 'dns';
    if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EHOSTDOWN' || code === 'EADDRNOTAVAIL') return 'unreachable';
    if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT') return 'timeout';
  }
  return undefined;
}
