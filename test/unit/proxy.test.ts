import { describe, expect, it } from 'vitest';

import { UsageError } from '../../src/errors.js';
import { proxyFromEnv } from '../../src/http/proxy.js';

describe('proxy variables, as curl reads them', () => {
  it('no variable: no proxy, and the environment is not read again behind our back', () => {
    expect(proxyFromEnv({})).toEqual({ httpProxy: '', httpsProxy: '', noProxy: '' });
  });

  it('a value without a scheme is http://', () => {
    expect(proxyFromEnv({ HTTPS_PROXY: '127.0.0.1:3128', HTTP_PROXY: 'proxy.corp.example:8080' })).toMatchObject({
      httpsProxy: 'http://127.0.0.1:3128/',
      httpProxy: 'http://proxy.corp.example:8080/',
    });
    // "localhost:3128" would parse as a URL of scheme "localhost:": it is a host and port
    expect(proxyFromEnv({ https_proxy: 'localhost:3128' }).httpsProxy).toBe('http://localhost:3128/');
  });

  it('the lower-case name wins, even empty (curl: an empty value is no proxy)', () => {
    expect(proxyFromEnv({ https_proxy: 'http://a.example:1', HTTPS_PROXY: 'http://b.example:2' }).httpsProxy).toBe('http://a.example:1/');
    expect(proxyFromEnv({ https_proxy: '', HTTPS_PROXY: 'http://b.example:2' }).httpsProxy).toBe('');
    expect(proxyFromEnv({ no_proxy: 'a.example', NO_PROXY: 'b.example' }).noProxy).toBe('a.example');
  });

  it.each(['socks5://127.0.0.1:1080', 'http://[::1', 'ftp://proxy.example'])('%s is a usage error naming the variable', (value) => {
    expect(() => proxyFromEnv({ HTTPS_PROXY: value })).toThrow(UsageError);
    expect(() => proxyFromEnv({ HTTPS_PROXY: value })).toThrow(/HTTPS_PROXY/);
  });

  it('never shows a proxy password in its refusal', () => {
    expect(() => proxyFromEnv({ HTTP_PROXY: 'socks5://me:Hunter2-proxy@127.0.0.1:1080' })).toThrow(/^(?!.*Hunter2-proxy)/s);
  });
});
