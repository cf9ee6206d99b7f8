/**
 * The page-number walks (discuz, dishawang), through the real CLI against the
 * fixture server: exact exports while messages arrive and pages are read
 * concurrently, the timezone of dishawang's naive times, the discuz sample's
 * repeated id, bounded behaviour against a server that ignores the page
 * number, and the providers' errors.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

import type { CanonicalMessage, FixtureServer, Provider } from '../../fixtures/server.js';
import { TOKEN, runCli, type RunResult, type Sandbox } from '../helpers/cli.js';
import { exportProblems, expectedMessage, linesOf, orderedIds, startIdsIn } from '../helpers/ground-truth.js';
import { useSandbox, useServer } from '../helpers/fixtures.js';

const sample = (provider: string): any =>
  JSON.parse(readFileSync(new URL(`../../fixtures/${provider}/sample.json`, import.meta.url), 'utf8'));

/** A real answer of the fixture server, to be served again as a fault body. */
async function fetchJson(url: string): Promise<any> {
  return (await fetch(url)).json();
}

interface Dumped {
  result: RunResult;
  lines: string[];
  start: CanonicalMessage[];
  end: CanonicalMessage[];
}

/** Runs one export of `channel` and takes the ground truth just before and just after. */
async function dumpChannel(server: FixtureServer, sandbox: Sandbox, provider: Provider, channel: string, extra: string[], env = {}): Promise<Dumped> {
  server.resetLog();
  const truth = () => {
    try {
      return server.messages(provider, channel);
    } catch {
      return []; // a channel the server does not have (error tests)
    }
  };
  const start = truth();
  const result = await runCli(
    ['dump', '--provider', provider, '--channel', channel, '--base-url', server.url, '--rate', '1000', '--no-progress', ...extra],
    { env: sandbox.env(env), timeoutMs: 40_000 },
  );
  const end = truth();
  return { result, lines: linesOf(result.stdout), start, end };
}

describe('discuz: full export, pages read 4 at a time while a message arrives every 3rd request', () => {
  const DIALOG = '12';
  const server = useServer({
    auth: { token: TOKEN },
    // a few ms per answer, as any real server takes: requests at 1000/s then overlap
    latencyMs: 5,
    channels: [{ provider: 'discuz', id: DIALOG, count: 3000, ties: [{ at: 1000, size: 120 }], insertEvery: 3 }],
  });
  const sandbox = useSandbox();

  for (const order of ['asc', 'desc'] as const) {
    it(`exports the start history exactly once each, in ${order} order, concurrently`, async () => {
      const { result, lines, start, end } = await dumpChannel(server(), sandbox(), 'discuz', DIALOG, [
        '--page-size', '50', '--concurrency', '4', '--order', order,
      ]);
      expect(result.stderr).not.toMatch(/chat-export: warning/);
      expect(result.code).toBe(0);
      expect(end.length).toBeGreaterThan(start.length + 10); // inserts really happened during the walk
      // the content comparison below covers attachments and edits
      expect(start.filter((m) => m.attachments.length > 0).length).toBeGreaterThan(100);
      expect(start.filter((m) => m.updatedTime !== null).length).toBeGreaterThan(100);

      expect(exportProblems({ provider: 'discuz', channel: DIALOG, lines, start, end, order })).toEqual([]);
      expect(startIdsIn(lines, start)).toEqual(orderedIds(start, order));
      const ids = lines.map((line) => JSON.parse(line).id);
      expect(new Set(ids).size).toBe(ids.length);

      // pages really were in flight together
      expect(server().maxInFlight('discuz', DIALOG)).toBeGreaterThan(1);
      const requests = server().log.filter((e) => e.channel === DIALOG);
      for (const entry of requests) {
        const query = new URL(entry.url, server().url).searchParams;
        expect(query.get('sort')).toBe('-createdAt');
        expect(query.get('include')).toBe('user,attachment');
        expect(query.get('page[limit]')).toBe('50');
        expect(entry.headers.authorization).toBe(`Bearer ${TOKEN}`);
      }
    });
  }

  it('one attachment message, line for line (canonical attachment type is the MIME type)', async () => {
    const { lines, start } = await dumpChannel(server(), sandbox(), 'discuz', DIALOG, ['--page-size', '50']);
    const withFile = start.find((m) => m.attachments.length > 0)!;
    const line = lines.find((l) => JSON.parse(l).id === withFile.id);
    expect(JSON.parse(line!).attachments).toEqual([
      { url: withFile.attachments[0]!.url, name: withFile.attachments[0]!.name, type: withFile.attachments[0]!.type },
    ]);
    expect(withFile.attachments[0]!.type).toMatch(/^image\/(png|jpeg)$/);
    expect(line).toBe(JSON.stringify(expectedMessage('discuz', DIALOG, withFile)));
  });
});

describe('dishawang: full export, fixed pages read 4 at a time while a message arrives every 3rd request', () => {
  const CONV = '26';
  const server = useServer({
    auth: { token: TOKEN },
    latencyMs: 5,
    channels: [
      { provider: 'dishawang', id: CONV, count: 1500, insertEvery: 3 },
      { provider: 'dishawang', id: '27', count: 120, perPage: 25 },
    ],
  });
  const sandbox = useSandbox();

  for (const order of ['asc', 'desc'] as const) {
    it(`exports the start history exactly once each, in ${order} order, concurrently`, async () => {
      const { result, lines, start, end } = await dumpChannel(server(), sandbox(), 'dishawang', CONV, ['--concurrency', '4', '--order', order]);
      expect(result.stderr).not.toMatch(/chat-export: warning/);
      expect(result.code).toBe(0);
      expect(end.length).toBeGreaterThan(start.length + 10);
      expect(start.filter((m) => m.deleted).length).toBeGreaterThan(20);
      expect(start.filter((m) => m.updatedTime !== null).length).toBeGreaterThan(50);

      expect(exportProblems({ provider: 'dishawang', channel: CONV, lines, start, end, order })).toEqual([]);
      expect(startIdsIn(lines, start)).toEqual(orderedIds(start, order));
      expect(server().maxInFlight('dishawang', CONV)).toBeGreaterThan(1);
      for (const entry of server().log.filter((e) => e.channel === CONV)) expect(entry.headers.token).toBe(TOKEN);
    });
  }

  it('uses the page size the server states (per_page 25): 5 pages for 120 messages', async () => {
    const { result, lines, start } = await dumpChannel(server(), sandbox(), 'dishawang', '27', []);
    expect(result.code).toBe(0);
    expect(exportProblems({ provider: 'dishawang', channel: '27', lines, start, end: start, order: 'asc' })).toEqual([]);
    const pages = server().log.filter((e) => e.channel === '27').map((e) => e.url.split('/').pop());
    expect([...new Set(pages)].sort()).toEqual(['1', '2', '3', '4', '5']);
  });

  it('--timezone Z reads the naive times as UTC: every timestamp and editedAt 8 h later than with the default +08:00', async () => {
    const shift = (m: CanonicalMessage): CanonicalMessage => ({
      ...m,
      time: m.time + 8 * 3600_000,
      updatedTime: m.updatedTime === null ? null : m.updatedTime + 8 * 3600_000,
    });
    const { result, lines, start } = await dumpChannel(server(), sandbox(), 'dishawang', '27', ['--timezone', 'Z']);
    expect(result.code).toBe(0);
    const shifted = start.map(shift);
    expect(exportProblems({ provider: 'dishawang', channel: '27', lines, start: shifted, end: shifted, order: 'asc' })).toEqual([]);
    const plain = await dumpChannel(server(), sandbox(), 'dishawang', '27', ['--timezone', '+08:00']);
    expect(exportProblems({ provider: 'dishawang', channel: '27', lines: plain.lines, start, end: start, order: 'asc' })).toEqual([]);
    expect(plain.lines).not.toEqual(lines);
  });

  it('a profile with "timezone": "Z" does the same as --timezone Z', async () => {
    const config = sandbox().config;
    mkdirSync(dirname(config), { recursive: true });
    writeFileSync(config, JSON.stringify({ profiles: { dw: { provider: 'dishawang', baseUrl: server().url, timezone: 'Z', rate: 1000 } } }), {
      mode: 0o600,
    });
    const start = server().messages('dishawang', '27');
    const result = await runCli(['dump', '--provider', 'dw', '--channel', '27', '--no-progress'], { env: sandbox().env(), timeoutMs: 20_000 });
    expect(result.stderr).not.toMatch(/chat-export: warning/);
    expect(result.code).toBe(0);
    const first = JSON.parse(linesOf(result.stdout)[0]!);
    const oldest = start.at(-1)!;
    expect(first.id).toBe(oldest.id);
    expect(first.timestamp).toBe(new Date(oldest.time + 8 * 3600_000).toISOString());
  });
});

describe('answers out of order while a message arrives with every request', () => {
  // Every 3rd request is held back 30 ms, so the page after it is answered first,
  // from a list one or more messages shorter: the seam between them hides messages
  // unless the walker notices and reads again.
  const delays = (provider: Provider) =>
    Array.from({ length: 150 }, (_, k) => ({ provider, nth: 2 + 3 * k, kind: 'delay' as const, ms: 30 }));
  const server = useServer({
    latencyMs: 3,
    faults: [...delays('discuz'), ...delays('dishawang')],
    channels: [
      { provider: 'discuz', id: '40', count: 1000, insertEvery: 1 },
      { provider: 'dishawang', id: '41', count: 600, insertEvery: 1 },
    ],
  });
  const sandbox = useSandbox();

  it.each([
    ['discuz', '40'],
    ['dishawang', '41'],
  ] as const)('%s: no message lost, none doubled', async (provider, channel) => {
    const { result, lines, start, end } = await dumpChannel(server(), sandbox(), provider, channel, ['--page-size', '50', '--concurrency', '4']);
    expect(result.code).toBe(0);
    expect(server().log.some((e) => e.fault === 'delay')).toBe(true);
    expect(server().maxInFlight(provider, channel)).toBeGreaterThan(1);
    expect(exportProblems({ provider, channel, lines, start, end, order: 'asc' })).toEqual([]);
    expect(startIdsIn(lines, start)).toEqual(orderedIds(start, 'asc'));
  });
});

describe('a burst of many pages of new messages between two page reads', () => {
  // Page 11 is held back 400 ms; meanwhile 150 messages arrive (15 dishawang pages,
  // 15 discuz pages of 10): everything read so far is pushed 15 pages on.
  const server = useServer({
    faults: [
      { provider: 'dishawang', channel: '50', nth: 11, kind: 'delay', ms: 400 },
      { provider: 'discuz', channel: '51', nth: 11, kind: 'delay', ms: 400 },
    ],
    channels: [
      { provider: 'dishawang', id: '50', count: 400 },
      { provider: 'discuz', id: '51', count: 400 },
    ],
  });
  const sandbox = useSandbox();

  it.each([
    ['dishawang', '50', '1'],
    ['discuz', '51', '4'],
  ] as const)('%s (dialog %s, concurrency %s): no loss, no duplicates, and no false "changed too fast" failure', async (provider, channel, concurrency) => {
    server().resetLog();
    const start = server().messages(provider, channel);
    const running = runCli(
      ['dump', '--provider', provider, '--channel', channel, '--base-url', server().url, '--rate', '1000', '--no-progress', '--page-size', '10', '--concurrency', concurrency],
      { env: sandbox().env(), timeoutMs: 30_000 },
    );
    const deadline = Date.now() + 20_000;
    while (!server().log.some((e) => e.channel === channel && e.fault === 'delay') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    server().insert(provider, channel, 150);
    const result = await running;
    const end = server().messages(provider, channel);
    expect(result.stderr).not.toMatch(/changed faster|chat-export: warning/);
    expect(result.code).toBe(0);
    const lines = linesOf(result.stdout);
    expect(exportProblems({ provider, channel, lines, start, end, order: 'asc' })).toEqual([]);
    expect(startIdsIn(lines, start)).toEqual(orderedIds(start, 'asc'));
  });
});

describe('--since / --until / --limit on page walks', () => {
  const server = useServer({
    latencyMs: 2,
    channels: [
      { provider: 'discuz', id: '60', count: 2000 },
      { provider: 'dishawang', id: '61', count: 600 },
    ],
  });
  const sandbox = useSandbox();
  const ids = (lines: string[]) => lines.map((line) => JSON.parse(line).id as string);

  it.each([
    ['discuz', '60', 2000, 50],
    ['dishawang', '61', 600, 10],
  ] as const)('%s: exact windows, and --since / --limit stop early', async (provider, channel, count, perPage) => {
    const truth = server().messages(provider, channel); // newest first
    const full = await dumpChannel(server(), sandbox(), provider, channel, ['--concurrency', '4']);
    expect(full.result.code).toBe(0);
    const fullRequests = server().log.length;
    expect(fullRequests).toBeGreaterThanOrEqual(count / perPage);

    // --since inclusive (a message's exact time), --until exclusive, as ISO and epoch ms
    const since = truth[Math.floor(count * 0.7)]!.time;
    const until = truth[Math.floor(count * 0.2)]!.time;
    const expected = orderedIds(truth.filter((m) => m.time >= since && m.time < until));
    expect(expected.length).toBeGreaterThan(count * 0.4);
    const iso = await dumpChannel(server(), sandbox(), provider, channel, ['--since', new Date(since).toISOString(), '--until', new Date(until).toISOString()]);
    expect(iso.result.code).toBe(0);
    expect(ids(iso.lines)).toEqual(expected);
    const epoch = await dumpChannel(server(), sandbox(), provider, channel, ['--since', String(since), '--until', String(until), '--order', 'desc']);
    expect(ids(epoch.lines)).toEqual([...expected].reverse());

    // --since near the newest end reads only the first pages
    const recent = await dumpChannel(server(), sandbox(), provider, channel, ['--since', String(truth[perPage + 3]!.time), '--concurrency', '4']);
    expect(ids(recent.lines)).toEqual(orderedIds(truth.slice(0, perPage + 4)));
    expect(server().log.length).toBeLessThanOrEqual(2 + 4);
    expect(server().log.length * 5).toBeLessThan(fullRequests);

    // --limit: the newest N, oldest first, from the first pages only
    const limited = await dumpChannel(server(), sandbox(), provider, channel, ['--limit', '25', '--concurrency', '4']);
    expect(ids(limited.lines)).toEqual(orderedIds(truth.slice(0, 25)));
    expect(server().log.length * 5).toBeLessThan(fullRequests);
  });
});

describe('the discuz sample through the CLI', () => {
  const server = useServer({ channels: [{ provider: 'discuz', id: '1', count: 0 }] });
  const sandbox = useSandbox();

  it('keeps only the first message of the repeated "id": "1" (text "11111")', async () => {
    server().addFault({ provider: 'discuz', channel: '1', nth: 1, kind: 'body', body: sample('discuz') });
    const { result, lines } = await dumpChannel(server(), sandbox(), 'discuz', '1', []);
    expect(result.code).toBe(0);
    expect(lines).toEqual([
      '{"id":"1","provider":"discuz","channel":"1","timestamp":"2020-02-17T02:14:31.000Z",' +
        '"sender":{"id":"2","name":"username","avatar":null},"type":"text","text":"11111",' +
        '"replyTo":null,"editedAt":null,"deleted":false,"attachments":[]}',
    ]);
    // a 4-message answer to a 50-message page, with no links.next: one request is the whole walk
    expect(server().log).toHaveLength(1);
  });
});

describe('a server that ignores the page number cannot make the walker spin', () => {
  const server = useServer({
    channels: [
      { provider: 'discuz', id: '5', count: 200 },
      { provider: 'dishawang', id: '7', count: 200 },
    ],
  });
  const sandbox = useSandbox();

  it('discuz: page 1 again and again, with links.next and a huge total → non-zero exit, bounded requests', async () => {
    const page = await fetchJson(`${server().url}/api/dialog/message?filter[dialog_id]=5&include=user,attachment&page[number]=1&page[limit]=50&sort=-createdAt`);
    page.meta = { total: 1_000_000, pageCount: 20_000 };
    server().clearFaults();
    server().addFault({ provider: 'discuz', channel: '5', kind: 'body', body: page });
    const { result } = await dumpChannel(server(), sandbox(), 'discuz', '5', ['--page-size', '50']);
    expect(result.timedOut).toBe(false);
    expect(result.code).toBe(4);
    expect(result.stdout).toBe('');
    expect(server().log.length).toBeLessThanOrEqual(20);
  });

  it('discuz: page 1 again and again without meta (only links.next) → non-zero exit, bounded requests', async () => {
    const page = await fetchJson(`${server().url}/api/dialog/message?filter[dialog_id]=5&include=user,attachment&page[number]=1&page[limit]=50&sort=-createdAt`);
    delete page.meta;
    server().clearFaults();
    server().addFault({ provider: 'discuz', channel: '5', kind: 'body', body: page });
    const { result } = await dumpChannel(server(), sandbox(), 'discuz', '5', ['--page-size', '50']);
    expect(result.timedOut).toBe(false);
    expect(result.code).toBe(4);
    expect(server().log.length).toBeLessThanOrEqual(20);
  });

  it('dishawang: page 1 again and again with last_page 10,000 → non-zero exit, not a 10,000-request "success"', async () => {
    const page = await fetchJson(`${server().url}/api/v1/im/7/message/1`);
    page.data.total = 100_000;
    page.data.last_page = 10_000;
    server().clearFaults();
    server().addFault({ provider: 'dishawang', channel: '7', kind: 'body', body: page });
    const { result } = await dumpChannel(server(), sandbox(), 'dishawang', '7', []);
    expect(result.timedOut).toBe(false);
    expect(result.code).toBe(4);
    expect(result.stdout).toBe('');
    expect(server().log.length).toBeLessThanOrEqual(20);
  });
});

describe('discuz and dishawang errors', () => {
  const server = useServer({
    auth: { token: TOKEN },
    channels: [
      { provider: 'discuz', id: '12', count: 10 },
      { provider: 'dishawang', id: '26', count: 10 },
    ],
  });
  const sandbox = useSandbox();

  it('discuz: an unknown dialog (HTTP 404) → exit 4, "dialog not found" on stderr, not retried', async () => {
    const { result } = await dumpChannel(server(), sandbox(), 'discuz', '999', []);
    expect(result.code).toBe(4);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/dialog not found/);
    expect(result.stderr).toContain('999');
    expect(server().log).toHaveLength(1);
  });

  it('discuz: a refused token (HTTP 401) → exit 3', async () => {
    const { result } = await dumpChannel(server(), sandbox(), 'discuz', '12', [], { CHAT_EXPORT_TOKEN: 'wrong' });
    expect(result.code).toBe(3);
    expect(result.stderr).not.toContain('wrong');
  });

  it('discuz without --base-url → exit 2 saying how to give it, before any request', async () => {
    server().resetLog();
    const result = await runCli(['dump', '--provider', 'discuz', '--channel', '12', '--no-progress'], { env: sandbox().env(), timeoutMs: 20_000 });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/--base-url/);
    expect(result.stderr).toMatch(/CHAT_EXPORT_BASE_URL/);
    expect(server().log).toHaveLength(0);
  });

  it('dishawang: an unknown conversation (code 0, msg) → non-zero, the msg on stderr', async () => {
    const { result } = await dumpChannel(server(), sandbox(), 'dishawang', '404404', []);
    expect(result.code).not.toBe(0);
    expect(result.code).toBe(4);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('会话不存在');
    expect(result.stderr).toContain('404404');
  });

  it('dishawang: success with "data": null is an empty conversation: exit 0, nothing written', async () => {
    server().addFault({ provider: 'dishawang', channel: '26', kind: 'body', body: { code: 1, msg: 'ok', data: null } });
    try {
      const { result } = await dumpChannel(server(), sandbox(), 'dishawang', '26', []);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/: 0 messages → stdout \(0 B\), 1 page, 1 request, 0 retries/);
    } finally {
      server().clearFaults();
    }
  });

  it('dishawang: a refused token (code 0 "请先登录") → exit 3 with the msg', async () => {
    const { result } = await dumpChannel(server(), sandbox(), 'dishawang', '26', [], { CHAT_EXPORT_TOKEN: 'wrong' });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('请先登录');
  });

  it('with the right token both succeed (the failures above were the faults)', async () => {
    const a = await dumpChannel(server(), sandbox(), 'discuz', '12', []);
    expect(a.result.code).toBe(0);
    expect(exportProblems({ provider: 'discuz', channel: '12', lines: a.lines, start: a.start, end: a.end, order: 'asc' })).toEqual([]);
    const b = await dumpChannel(server(), sandbox(), 'dishawang', '26', []);
    expect(b.result.code).toBe(0);
    expect(exportProblems({ provider: 'dishawang', channel: '26', lines: b.lines, start: b.start, end: b.end, order: 'asc' })).toEqual([]);
  });
});
