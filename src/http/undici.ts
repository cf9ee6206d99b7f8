/**
 * The three pieces of undici the client uses, loaded from their own files.
 *
 * Why not `import … from 'undici'`: its index loads the whole package (fetch,
 * WebSocket, cookies, mocks, cache stores), and through them Node's own bundled
 * copy of undici — about 150 ms of every run's start-up on a quiet machine and
 * ~10 MiB of RSS, against ~40 ms for these three files. undici 7 has no
 * `exports` map, so these paths are reachable; package.json pins undici to
 * 7.30.x so that a layout change cannot arrive unseen, and
 * test/http-undici.test.ts checks that each is the very object the index
 * exports.
 */
import { createRequire } from 'node:module';
import type * as Undici from 'undici';

const require = createRequire(import.meta.url);

export const Agent = require('undici/lib/dispatcher/agent.js') as typeof Undici.Agent;
export const EnvHttpProxyAgent = require('undici/lib/dispatcher/env-http-proxy-agent.js') as typeof Undici.EnvHttpProxyAgent;
/** `Dispatcher#request` (the index mixes it into the prototype): called with the dispatcher as `this`. */
const dispatcherRequest = require('undici/lib/api/api-request.js') as (this: Undici.Dispatcher, options: Undici.Dispatcher.RequestOptions) => Promise<Undici.Dispatcher.ResponseData>;

export type { Dispatcher } from 'undici';

/** What undici's `request(url, { dispatcher, … })` does, without its index: origin and path from the URL. */
export function request(
  dispatcher: Undici.Dispatcher,
  url: URL,
  options: Omit<Undici.Dispatcher.RequestOptions, 'origin' | 'path'>,
): Promise<Undici.Dispatcher.ResponseData> {
  return dispatcherRequest.call(dispatcher, { ...options, origin: url.origin, path: `${url.pathname}${url.search}` });
}
