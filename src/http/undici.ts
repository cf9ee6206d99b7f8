/**
 * The pieces of undici the client uses, loaded from their own files.
 *
 * Why not `import … from 'undici'`: its index loads the whole package (fetch,
 * WebSocket, cookies, mocks, cache stores), and through them Node's own bundled
 * copy of undici — about 150 ms of every run's start-up on a quiet machine and
 * ~10 MiB of RSS, against ~40 ms for these files. undici 7 has no `exports`
 * map, so these paths are reachable; package.json pins undici to 7.30.x so that
 * a layout change cannot arrive unseen, and test/e2e/startup.test.ts checks
 * that each is the very object the index exports. The HTTPS_PROXY tunnel tests
 * cover the one thing the index does besides exporting (below).
 */
import { createRequire } from 'node:module';
import type * as Undici from 'undici';

const require = createRequire(import.meta.url);

const Dispatcher = require('undici/lib/dispatcher/dispatcher.js') as typeof Undici.Dispatcher;
// What undici's index does on load: every dispatcher gets request / stream / pipeline / upgrade / connect.
// undici relies on it itself (ProxyAgent opens its CONNECT tunnel with `client.connect()`).
Object.assign(Dispatcher.prototype, require('undici/lib/api/index.js'));

export const Agent = require('undici/lib/dispatcher/agent.js') as typeof Undici.Agent;
export const EnvHttpProxyAgent = require('undici/lib/dispatcher/env-http-proxy-agent.js') as typeof Undici.EnvHttpProxyAgent;
export type { Dispatcher } from 'undici';

/** What undici's `request(url, { dispatcher, … })` does, without its index: origin and path from the URL. */
export function request(
  dispatcher: Undici.Dispatcher,
  url: URL,
  options: Omit<Undici.Dispatcher.RequestOptions, 'origin' | 'path'>,
): Promise<Undici.Dispatcher.ResponseData> {
  return dispatcher.request({ ...options, origin: url.origin, path: `${url.pathname}${url.search}` });
}
