/**
 * The relation cursor walk, through the real CLI against the fixture server:
 * no loss and no duplicates across an inclusive cursor, a tie cluster larger
 * than a page and messages posted during the run; --order; the time window
 * and --limit; bounded behaviour against a server that ignores the cursor;
 * relation's error codes.
 */
import { beforeAll, describe, expect, it } from 'vitest';

import type { CanonicalMessage } from '../../fixtures/server.js';
import { API_KEY, TOKEN, runCli, type RunResult } from '../helpers/cli.js';
import { chronological, expectedLine, exportProblems, linesOf, orderedIds, startIdsIn } from '../helpers/ground-truth.js';
import { useSandbox, useServer } from '../helpers/fixtures.js';

const BIG = 'b16c0ffee0000000000000000000000a';
const WINDOW = 'b16c0ffee0000000000000000000000b';
const PAGE = 50;

describe('relation: a 10,000-message channel with a 150-message tie and inserts during the walk', () => {
  const server = useServer({
    auth: { token: TOKEN, apiKey: API_KEY },
    channels: [{ provider: 'relation', id: BIG, count: 10_000, ties: [{ at: 5000, size: 3 * PAGE }], insertEvery: 7 }],
  });
  const sandbox = useSandbox();

  async function dump(order: 'asc' | 'desc'): Promise<{ result: RunResult; start: CanonicalMessage[]; end: CanonicalMessage[] }> {
    server().resetLog();
    const start = server().messages('relation', BIG);
    const result = await runCli(
      ['dump', '--provider', 'relation', '--channel', BIG, '--base-url', server().url, '--page-size', String(PAGE), '--rate', '1000', '--order', order, '--no-progress'],
      { env: sandbox().env(), timeoutMs: 40_000 },
    );
    const end = server().messages('relation', BIG);
    return { result, start, end };
  }

  it('exports the history as it was at the start exactly once each, oldest first (--order asc, the default)', async () => {
    const { result, start, end } = await dump('asc');
    expect(result.stderr).not.toMatch(/chat-export: warning/);
    expect(result.code).toBe(0);
    // the run really did see inserts: the history grew while it was read
    expect(end.length).toBeGreaterThan(start.length);

    const lines = linesOf(result.stdout);
    expect(exportProblems({ provider: 'relation', channel: BIG, lines, start, end, order: 'asc' })).toEqual([]);
    // The same, spelled out: the start history, in order, each id once; nothing else but messages inserted since.
    const ids = lines.map((line) => JSON.parse(line).id as string);
    expect(new Set(ids).size).toBe(ids.length);
    expect(startIdsIn(lines, start)).toEqual(orderedIds(start, 'asc'));
    expect(startIdsIn(lines, start)).toHaveLength(10_000);
    const endIds = new Set(end.map((m) => m.id));
    expect(ids.filter((id) => !endIds.has(id))).toEqual([]);

    // The tie cluster (150 messages sharing one millisecond) came through whole.
    const tieTime = new Date(start.find((m) => m.id === orderedIds(start)[5000])!.time).toISOString();
    expect(lines.filter((line) => JSON.parse(line).timestamp === tieTime)).toHaveLength(3 * PAGE);

    // every request carried both credentials and the page size asked for
    const requests = server().log.filter((entry) => entry.channel === BIG);
    expect(requests.length).toBeGreaterThan(10_000 / PAGE);
    expect(requests.length).toBeLessThan((10_000 / (PAGE - 1)) * 1.2);
    for (const entry of requests) {
      expect(entry.headers.apikey).toBe(API_KEY);
      expect(entry.headers.authorization).toBe(`Bearer ${TOKEN}`);
    }
  });

  it('--order desc writes the same messages newest first', async () => {
    const { result, start, end } = await dump('desc');
    expect(result.code).toBe(0);
    const lines = linesOf(result.stdout);
    expect(exportProblems({ provider: 'relation', channel: BIG, lines, start, end, order: 'desc' })).toEqual([]);
    expect(startIdsIn(lines, start)).toEqual(orderedIds(start, 'desc'));
  });

  it('the check itself fails on a lost or a doubled message', () => {
    const start = server().messages('relation', BIG).slice(0, 300);
    const good = chronological(start).map((m) => expectedLine('relation', BIG, m));
    const check = (lines: string[]) => exportProblems({ provider: 'relation', channel: BIG, lines, start, end: start, order: 'asc' });
    expect(check(good)).toEqual([]);
    const lost = [...good.slice(0, 100), ...good.slice(101)];
    expect(check(lost).join('\n')).toMatch(/1 messages lost/);
    expect(startIdsIn(lost, start)).not.toEqual(orderedIds(start));
    const doubled = [...good.slice(0, 101), good[100]!, ...good.slice(101)];
    expect(check(doubled).join('\n')).toMatch(/exported 2 times/);
    expect(startIdsIn(doubled, start)).not.toEqual(orderedIds(start));
    const swapped = [...good];
    [swapped[10], swapped[11]] = [swapped[11]!, swapped[10]!];
    expect(check(swapped).join('\n')).toMatch(/not in asc order/);
  });
});

describe('relation: --since / --until / --limit', () => {
  const COUNT = 2000;
  const server = useServer({
    channels: [{ provider: 'relation', id: WINDOW, count: COUNT, ties: [{ at: 1500, size: 80 }] }],
  });
  const sandbox = useSandbox();
  let truth: CanonicalMessage[] = [];
  let fullRequests = 0;

  async function dump(...extra: string[]): Promise<{ result: RunResult; lines: string[]; requests: number }> {
    server().resetLog();
    const result = await runCli(
      ['dump', '--provider', 'relation', '--channel', WINDOW, '--base-url', server().url, '--page-size', String(PAGE), '--rate', '1000', '--no-progress', ...extra],
      { env: sandbox().env(), timeoutMs: 30_000 },
    );
    expect(result.stderr).not.toMatch(/internal error/);
    return { result, lines: linesOf(result.stdout), requests: server().log.filter((e) => e.channel === WINDOW).length };
  }
  const ids = (lines: string[]) => lines.map((line) => JSON.parse(line).id as string);
  const asc = (messages: CanonicalMessage[]) => orderedIds(messages, 'asc');

  beforeAll(() => {
    truth = server().messages('relation', WINDOW);
  });

  it('a full walk reads every message (the baseline for early stops)', async () => {
    const { result, lines, requests } = await dump();
    expect(result.code).toBe(0);
    expect(exportProblems({ provider: 'relation', channel: WINDOW, lines, start: truth, end: truth, order: 'asc' })).toEqual([]);
    fullRequests = requests;
    expect(fullRequests).toBeGreaterThanOrEqual(COUNT / PAGE);
  });

  it('--since is inclusive, --until exclusive, as ISO and as epoch ms', async () => {
    const byIndex = [...truth].reverse(); // oldest first: index i = message i
    const since = byIndex[600]!.time;
    const until = byIndex[1700]!.time;
    expect(byIndex[599]!.time).toBeLessThan(since);
    expect(byIndex[1699]!.time).toBeLessThan(until);
    const expected = asc(truth.filter((m) => m.time >= since && m.time < until));
    expect(expected).toHaveLength(1100);
    expect(expected[0]).toBe(byIndex[600]!.id);
    expect(expected.at(-1)).toBe(byIndex[1699]!.id);

    const iso = await dump('--since', new Date(since).toISOString(), '--until', new Date(until).toISOString());
    expect(iso.result.code).toBe(0);
    expect(ids(iso.lines)).toEqual(expected);
    expect(exportProblems({ provider: 'relation', channel: WINDOW, lines: iso.lines, start: [], end: truth, order: 'asc' })).toEqual([]);

    const epoch = await dump('--since', String(since), '--until', String(until));
    expect(epoch.result.code).toBe(0);
    expect(ids(epoch.lines)).toEqual(expected);
  });

  it('a window edge on a tie cluster takes all of it (since) or none of it (until)', async () => {
    const byIndex = [...truth].reverse();
    const tie = byIndex[1500]!.time;
    expect(byIndex[1579]!.time).toBe(tie);
    const from = await dump('--since', String(tie), '--order', 'desc');
    expect(ids(from.lines)).toEqual(orderedIds(truth.filter((m) => m.time >= tie), 'desc'));
    expect(from.lines).toHaveLength(COUNT - 1500);
    const before = await dump('--until', String(tie), '--since', String(byIndex[1400]!.time));
    expect(ids(before.lines)).toEqual(asc(truth.filter((m) => m.time < tie && m.time >= byIndex[1400]!.time)));
    expect(before.lines).toHaveLength(100);
  });

  it('--limit 25 is the newest 25, written oldest first; it stops early too', async () => {
    const { result, lines, requests } = await dump('--limit', '25');
    expect(result.code).toBe(0);
    expect(ids(lines)).toEqual(asc(truth.slice(0, 25)));
    expect(requests).toBeLessThanOrEqual(2);
    const desc = await dump('--limit', '25', '--order', 'desc');
    expect(ids(desc.lines)).toEqual(orderedIds(truth.slice(0, 25), 'desc'));
  });

  it('--since stops the walk as soon as the rest is older: far fewer requests than a full walk', async () => {
    const since = truth[120]!.time; // the newest 121 messages
    const { result, lines, requests } = await dump('--since', String(since));
    expect(result.code).toBe(0);
    expect(ids(lines)).toEqual(asc(truth.slice(0, 121)));
    expect(fullRequests).toBeGreaterThan(0);
    expect(requests).toBeLessThanOrEqual(4);
    expect(requests * 10).toBeLessThan(fullRequests);
  });
});

describe('relation: a tie cluster larger than the server will ever return', () => {
  const CH = 'b16c0ffee0000000000000000000000e';
  // the server caps pages at 100; 150 messages share one millisecond
  const server = useServer({ channels: [{ provider: 'relation', id: CH, count: 600, ties: [{ at: 300, size: 150 }], pageCap: 100 }] });
  const sandbox = useSandbox();

  it('steps past with a warning naming the count, losing only the tie members it could not get, and exits 5 naming the millisecond', async () => {
    const truth = server().messages('relation', CH);
    const result = await runCli(
      ['dump', '--provider', 'relation', '--channel', CH, '--base-url', server().url, '--page-size', String(PAGE), '--rate', '1000', '--no-progress'],
      { env: sandbox().env(), timeoutMs: 20_000 },
    );
    expect(result.code).toBe(5);
    expect(result.stderr).toMatch(/warning: .*100 messages share the millisecond .*stepping past/);
    expect(result.stderr).toMatch(/chat-export: relation channel \w+: 100 messages share the millisecond .*could not be fetched .*how many are missing is unknown/);
    const oldestFirst = orderedIds(truth);
    // served newest first (larger id first on a tie): the 50 smallest ids of the cluster are out of reach
    const unreachable = new Set(oldestFirst.slice(300, 350));
    const lines = linesOf(result.stdout);
    expect(lines.map((line) => JSON.parse(line).id)).toEqual(oldestFirst.filter((id) => !unreachable.has(id)));
  });
});

describe('relation: a tie cluster at the bottom of the history', () => {
  // retention deleted the start, leaving 120 messages of one millisecond as the oldest: more than a page
  const RETAINED = 'b16c0ffee0000000000000000000001a';
  // 150 at one millisecond at the very start, the server caps pages at 100
  const CAPPED = 'b16c0ffee0000000000000000000001b';
  const server = useServer({
    channels: [
      { provider: 'relation', id: RETAINED, count: 400, ties: [{ at: 60, size: 120 }] },
      { provider: 'relation', id: CAPPED, count: 400, ties: [{ at: 0, size: 150 }], pageCap: 100 },
    ],
  });
  const sandbox = useSandbox();
  const dump = (channel: string) =>
    runCli(['dump', '--provider', 'relation', '--channel', channel, '--base-url', server().url, '--page-size', String(PAGE), '--rate', '1000', '--no-progress'], {
      env: sandbox().env(),
      timeoutMs: 20_000,
    });

  it('after retention, a short last page of one millisecond is the end: every message, exit 0, no warning', async () => {
    server().drop('relation', RETAINED, 60);
    const truth = server().messages('relation', RETAINED);
    const result = await dump(RETAINED);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toMatch(/share the millisecond/);
    expect(linesOf(result.stdout).map((line) => JSON.parse(line).id)).toEqual(orderedIds(truth));
  });

  it('a tie over the page cap at the very start is still reported: exit 5 naming the millisecond', async () => {
    const truth = server().messages('relation', CAPPED);
    const result = await dump(CAPPED);
    expect(result.code, result.stderr).toBe(5);
    expect(result.stderr).toMatch(/100 messages share the millisecond .*could not be fetched/);
    const oldestFirst = orderedIds(truth);
    // served newest first (larger id first on a tie): the 50 smallest ids of the cluster are out of reach
    expect(linesOf(result.stdout).map((line) => JSON.parse(line).id)).toEqual(oldestFirst.slice(50));
  });
});

describe('relation: a server that ignores the cursor cannot make the walker spin', () => {
  const CH = 'b16c0ffee0000000000000000000000c';
  const server = useServer({ channels: [{ provider: 'relation', id: CH, count: 0 }] });
  const sandbox = useSandbox();

  const info = (i: number, createAt: number) => ({
    id: String(1578671129496899586n + BigInt(i)),
    sendUuid: `u-${i}`,
    channelUuid: CH,
    createAt: String(createAt),
    type: 'TEXT',
    from: 'f',
    fromName: 'F',
    fromAvatar: null,
    content: `m${i}`,
    quote: null,
  });

  async function dump(): Promise<{ result: RunResult; requests: number }> {
    server().resetLog();
    const result = await runCli(
      ['dump', '--provider', 'relation', '--channel', CH, '--base-url', server().url, '--page-size', String(PAGE), '--rate', '1000', '--no-progress', '--retries', '1'],
      { env: sandbox().env(), timeoutMs: 20_000 },
    );
    return { result, requests: server().log.filter((e) => e.channel === CH).length };
  }

  it('the same page of distinct times, whatever maxCreateAt says → exit 4 after a few requests', async () => {
    server().clearFaults();
    const base = Date.UTC(2024, 0, 1);
    const data = Array.from({ length: PAGE }, (_, i) => info(i, base + (PAGE - i) * 1000));
    server().addFault({ provider: 'relation', channel: CH, kind: 'body', body: { code: '0', desc: 'success', data } });
    const { result, requests } = await dump();
    expect(result.timedOut).toBe(false);
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/it ignores the time bound/);
    expect(result.stdout).toBe('');
    expect(requests).toBeLessThanOrEqual(5);
  });

  it('the same page of one shared millisecond forever → grows, steps past with a warning, then exit 4; bounded', async () => {
    server().clearFaults();
    const at = Date.UTC(2024, 0, 1);
    const data = Array.from({ length: PAGE }, (_, i) => info(PAGE - i, at));
    server().addFault({ provider: 'relation', channel: CH, kind: 'body', body: { code: '0', desc: 'success', data } });
    const { result, requests } = await dump();
    expect(result.timedOut).toBe(false);
    expect(result.code).toBe(4);
    expect(result.stdout).toBe('');
    // it first asked for a bigger page, then stepped past the millisecond saying how many were at risk
    expect(result.stderr).toMatch(/warning: .*50 messages share the millisecond 2024-01-01T00:00:00\.000Z.*stepping past/);
    expect(result.stderr).toMatch(/\(maxCreateAt\), the server answered with newer ones: it ignores the time bound \(GET http:\/\/127\.0\.0\.1:\d+\/api\/v1\/message\/list\?/);
    const limits = server().log.filter((e) => e.channel === CH).map((e) => new URL(e.url, 'http://127.0.0.1').searchParams.get('limit'));
    expect(limits).toContain('200');
    expect(requests).toBeLessThanOrEqual(10);
  });

  it('a page of messages newer than maxCreateAt → exit 4 naming the cursor', async () => {
    server().clearFaults();
    const future = Date.UTC(2030, 0, 1);
    const data = [info(1, future), info(2, future - 5)];
    // first answer normal-looking, then always the same newer messages
    server().addFault({ provider: 'relation', channel: CH, kind: 'body', body: { code: '0', desc: 'success', data } });
    const { result, requests } = await dump();
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/maxCreateAt/);
    expect(requests).toBeLessThanOrEqual(3);
  });
});

describe('relation: error responses and exit codes', () => {
  const CH = 'b16c0ffee0000000000000000000000d';
  const server = useServer({ channels: [{ provider: 'relation', id: CH, count: 10 }] });
  const sandbox = useSandbox();
  const dump = (channel = CH) =>
    runCli(['dump', '--provider', 'relation', '--channel', channel, '--base-url', server().url, '--rate', '1000', '--no-progress'], {
      env: sandbox().env(),
      timeoutMs: 20_000,
    });

  it('code 10112 (parameter error) → exit 2, nothing on stdout', async () => {
    server().clearFaults();
    server().addFault({ provider: 'relation', kind: 'body', body: { code: '10112', desc: 'parameter error', data: null } });
    const result = await dump();
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/10112/);
    expect(result.stderr).toContain(CH);
  });

  it('code 10120 (permission denied) → exit 3', async () => {
    server().clearFaults();
    server().addFault({ provider: 'relation', kind: 'body', body: { code: '10120', desc: 'permission denied', data: null } });
    const result = await dump();
    expect(result.code).toBe(3);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/permission denied/);
  });

  it('a channel the account is not in (the server says 10120) → exit 3', async () => {
    server().clearFaults();
    const result = await dump('b16c0ffee00000000000000000000999');
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('b16c0ffee00000000000000000000999');
  });

  it('any other code shows desc and exits 4', async () => {
    server().clearFaults();
    server().addFault({ provider: 'relation', kind: 'body', body: { code: '10500', desc: 'service busy', data: null } });
    const result = await dump();
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/service busy/);
  });

  it('after clearing faults the same command succeeds (the fixtures above are what failed)', async () => {
    server().clearFaults();
    const result = await dump();
    expect(result.code).toBe(0);
    expect(linesOf(result.stdout)).toHaveLength(10);
  });
});
