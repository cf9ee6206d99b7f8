import { describe, expect, it } from 'vitest';

import { AddressGuard } from '../../src/http/address-guard.js';
import { HostBreaker, hostFailureKind } from '../../src/http/host-breaker.js';

describe('where a media download may go', () => {
  it.each([
    ['169.254.169.254', /link-local/],
    ['169.254.0.1', /link-local/],
    ['fe80::1', /link-local/],
    ['::ffff:169.254.169.254', /link-local/],
    ['127.0.0.2', /loopback or private/],
    ['10.1.2.3', /loopback or private/],
    ['172.31.255.255', /loopback or private/],
    ['192.168.0.1', /loopback or private/],
    ['100.64.0.1', /loopback or private/],
    ['0.0.0.0', /loopback or private/],
    ['::1', /loopback or private/],
    ['fd00::1', /loopback or private/],
    ['::ffff:10.0.0.1', /loopback or private/],
    ['8.8.8.8', undefined],
    ['172.32.0.1', undefined],
    ['2606:4700::1111', undefined],
  ])('%s: %s', async (address, expected) => {
    const guard = await AddressGuard.create({ apiHost: '203.0.113.7', allowPrivate: false });
    const refusal = guard.refusal('files.example', address);
    if (expected === undefined) expect(refusal).toBeUndefined();
    else expect(refusal).toMatch(expected);
  });

  it("lets the API's own host be private, and --media-allow-private every private address, but never link-local", async () => {
    const own = await AddressGuard.create({ apiHost: '127.0.0.1', allowPrivate: false });
    expect(own.refusal('127.0.0.1', '127.0.0.1')).toBeUndefined();
    expect(own.refusal('localhost', '127.0.0.1')).toBeUndefined();
    expect(own.refusal('127.0.0.2', '127.0.0.2')).toMatch(/--media-allow-private/);
    const named = await AddressGuard.create({ apiHost: '[::1]', allowPrivate: false });
    expect(named.refusal('[::1]', '::1')).toBeUndefined();
    const allowed = await AddressGuard.create({ apiHost: 'api.example', allowPrivate: true });
    expect(allowed.refusal('nas.lan', '192.168.1.10')).toBeUndefined();
    expect(allowed.refusal('meta', '169.254.169.254')).toMatch(/never fetched/);
  });

  it('checks a literal address in a URL without resolving it', async () => {
    const guard = await AddressGuard.create({ apiHost: '203.0.113.7', allowPrivate: false });
    await expect(guard.check(new URL('http://[::ffff:169.254.169.254]/x'))).rejects.toThrow(/link-local/);
    await expect(guard.check(new URL('http://0x7f.1/x'))).rejects.toThrow(/127\.0\.0\.1 is a loopback/);
    await expect(guard.check(new URL('http://8.8.8.8/x'))).resolves.toBeUndefined();
  });
});

describe('hosts given up for the run', () => {
  it('a name that does not resolve or a refused port at once, a silent host at its second timeout; later files counted', () => {
    const down: string[] = [];
    const hosts = new HostBreaker((entry) => down.push(entry.host));
    expect(hosts.failed('a.example', 'dns', 'ENOTFOUND')).toBe(true);
    expect(hosts.failed('b.example:81', 'unreachable', 'ECONNREFUSED')).toBe(true);
    expect(hosts.failed('c.example', 'timeout', 't')).toBe(false);
    expect(hosts.skip('c.example')).toBeUndefined();
    expect(hosts.failed('c.example', 'timeout', 't')).toBe(true);
    expect(down).toEqual(['a.example', 'b.example:81', 'c.example']);
    expect(hosts.skip('a.example')).toMatch(/not tried: a\.example was unreachable earlier in this run \(ENOTFOUND\)/);
    hosts.skip('a.example');
    expect(hosts.list().map((h) => [h.host, h.skipped])).toEqual([['a.example', 2], ['b.example:81', 0], ['c.example', 0]]);
  });

  it('reads the kind of failure from the error or its causes', () => {
    expect(hostFailureKind(Object.assign(new Error('x'), { code: 'EAI_AGAIN' }))).toBe('dns');
    expect(hostFailureKind(new Error('fetch failed', { cause: Object.assign(new Error('y'), { code: 'ECONNREFUSED' }) }))).toBe('unreachable');
    expect(hostFailureKind(Object.assign(new Error('z'), { code: 'UND_ERR_CONNECT_TIMEOUT' }))).toBe('timeout');
    expect(hostFailureKind(Object.assign(new Error('r'), { code: 'ECONNRESET' }))).toBeUndefined();
  });
});
