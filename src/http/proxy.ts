import { UsageError } from '../errors.js';
import { redactUrl, registerSecret } from '../text/sanitize.js';

/** What undici's EnvHttpProxyAgent is given: the values to use, never left to read the environment again. */
export interface ProxySettings {
  httpProxy: string;
  httpsProxy: string;
  noProxy: string;
}

/**
 * HTTP_PROXY, HTTPS_PROXY and NO_PROXY as curl reads them: the lower-case
 * name first, a value without a scheme taken as http:// (`127.0.0.1:3128`),
 * an empty one as no proxy. A value that cannot be a proxy is exit 2 before
 * any request, naming the variable (its credentials removed).
 */
export function proxyFromEnv(env: NodeJS.ProcessEnv): ProxySettings {
  const read = (lower: string, upper: string): { name: string; value: string } => {
    const name = env[lower] !== undefined ? lower : upper;
    return { name, value: (env[name] ?? '').trim() };
  };
  const noProxy = read('no_proxy', 'NO_PROXY');
  return {
    httpProxy: proxyUrl(read('http_proxy', 'HTTP_PROXY')),
    httpsProxy: proxyUrl(read('https_proxy', 'HTTPS_PROXY')),
    noProxy: noProxy.value,
  };
}

function proxyUrl({ name, value }: { name: string; value: string }): string {
  if (value === '') return '';
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`${name}=${JSON.stringify(redactUrl(value))} is not a proxy address`, {
      hint: `set it to http://host:port (or unset it: unset ${name})`,
    });
  }
  // A proxy's own password may show up in a network error: never printed.
  if (url.password) registerSecret(decodeURIComponentSafe(url.password));
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`${name} is a ${url.protocol}// proxy (${redactUrl(url)}); chat-export speaks only to http:// and https:// proxies`, {
      hint: `use an HTTP proxy, or unset ${name}`,
    });
  }
  if (url.hostname === '') throw new UsageError(`${name}=${JSON.stringify(redactUrl(value))} names no proxy host`, { hint: 'set it to http://host:port' });
  return url.href;
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
