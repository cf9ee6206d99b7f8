import { Agent, EnvHttpProxyAgent, type Dispatcher } from './undici.js';
import { proxyFromEnv } from './proxy.js';
import type { AddressGuard } from './address-guard.js';

/** The connection pools of a run, and which one a URL goes through. */
export interface Dispatchers {
  for(url: URL): Dispatcher;
  close(): Promise<void>;
}

/**
 * HTTPS_PROXY / HTTP_PROXY / NO_PROXY (either case) as curl reads them, checked
 * beforehand (proxy.ts: a value without a scheme is http://, as curl takes it).
 * Plain-http targets go to the proxy as absolute-URI requests (curl's way), not
 * CONNECT tunnels, which many corporate proxies refuse for port 80. One pool
 * for the run.
 */
export function createDispatchers(env: NodeJS.ProcessEnv, guard?: AddressGuard): Dispatchers {
  const proxies = proxyFromEnv(env);
  // With a guard, direct connections resolve their host through it (a proxy resolves its own: the guard checks
  // those before the request). undici hands `connect` only to the direct pool, not to ProxyAgent.
  const pool = { keepAliveTimeout: 10_000, connections: 32, pipelining: 1, ...(guard ? { connect: { lookup: guard.lookup } as object } : {}) };
  const agent = new EnvHttpProxyAgent({ ...proxies, ...pool, proxyTunnel: false });
  // undici sends https:// through HTTP_PROXY when HTTPS_PROXY is unset; curl (and the user's expectation) goes direct.
  const directHttps = proxies.httpsProxy === '' && proxies.httpProxy !== '' ? new Agent(pool) : undefined;
  return {
    for: (url) => (url.protocol === 'https:' && directHttps ? directHttps : agent),
    close: async () => {
      await Promise.all([agent.close(), directHttps?.close()]);
    },
  };
}
