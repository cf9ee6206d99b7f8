import { RemoteError } from '../errors.js';
import { redactUrl } from '../text/sanitize.js';

/** The statuses that are redirects: the client follows them hop by hop (client.ts `open`). */
export const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** Redirects followed for one request, API and media alike (DESIGN.md section 5). */
export const MAX_REDIRECTS = 5;

/**
 * The next URL of a redirect, when it may be followed: for an API request
 * the same origin, or http → https on the same host (DESIGN.md section 5);
 * for a download (`anyOrigin`) any http(s) URL, a file host handing off to a
 * CDN. At most MAX_REDIRECTS hops. Anything else is an error naming the
 * Location, never retried (the server would say the same again).
 */
export function followRedirect(
  from: URL,
  location: string | string[] | undefined,
  hop: number,
  label: string,
  shownUrl: string,
  anyOrigin = false,
): URL {
  const raw = Array.isArray(location) ? location[0] : location;
  if (!raw) {
    throw new RemoteError(`${label}: ${shownUrl} answered with a redirect but no Location`, { hint: 'check --base-url' });
  }
  let next: URL;
  try {
    next = new URL(raw, from);
  } catch {
    throw new RemoteError(`${label}: ${shownUrl} redirected to ${JSON.stringify(redactUrl(raw))}, which is not a URL`, { hint: 'check --base-url' });
  }
  const shownNext = redactUrl(next);
  if (next.protocol !== 'https:' && next.protocol !== 'http:') {
    throw new RemoteError(`${label}: ${shownUrl} redirected to a ${next.protocol} URL (${shownNext}); only http(s) is followed`);
  }
  if (hop >= MAX_REDIRECTS) {
    throw new RemoteError(`${label}: more than ${MAX_REDIRECTS} redirects from ${shownUrl} (the last to ${shownNext})`, {
      hint: 'check --base-url; the server redirects in a loop',
    });
  }
  if (anyOrigin) return next;
  const sameOrigin = next.origin === from.origin;
  const upgrade = from.protocol === 'http:' && next.protocol === 'https:' && next.hostname === from.hostname;
  if (!sameOrigin && !upgrade) {
    throw new RemoteError(`${label}: ${shownUrl} redirected to another origin: ${shownNext}; not followed, so the credentials stay with ${from.host}`, {
      hint: `if ${next.host} is the real API, pass it as --base-url`,
    });
  }
  return next;
}

