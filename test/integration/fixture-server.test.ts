import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import { HOSTILE_TEXTS } from '../../fixtures/history.js';
import { DEFAULT_CHANNELS } from '../../fixtures/server.js';
import { useServer } from '../helpers/fixtures.js';

async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(url, { headers });
  return { status: response.status, body: await response.json() };
}

const RELATION = 'c0ffee';
const TIE = { at: 100, size: 30 };

describe('relation', () => {
  const server = useServer({
    auth: { token: 's3cret', apiKey: 'k3y' },
    channels: [
      { provider: 'relation', id: RELATION, count: 300, ties: [TIE], hostile: true },
      { provider: 'relation', id: 'peer-1', count: 5, peer: true },
    ],
  });
  const headers = { ApiKey: 'k3y', Authorization: 'Bearer s3cret' };
  const list = async (query: string) =>
    getJson(`${server().url}/api/v1/message/list?channelUuid=${RELATION}&${query}`, headers);

  it('walking the inclusive maxCreateAt cursor returns exactly the ground truth', async () => {
    const seen = new Map<string, unknown>();
    let cursor = '';
    for (;;) {
      const { body } = await list(`limit=50${cursor}`);
      expect(body.code).toBe('0');
      const before = seen.size;
      for (const info of body.data) seen.set(info.id, info);
      if (body.data.length < 50) break;
      expect(seen.size).toBeGreaterThan(before);
      cursor = `&maxCreateAt=${body.data.at(-1).createAt}`;
    }
    const truth = server().messages('relation', RELATION);
    expect([...seen.keys()].sort()).toEqual(truth.map((m) => m.id).sort());
    expect(truth.some((m) => HOSTILE_TEXTS.includes(m.text))).toBe(true);
  });

  it('serves newest first with larger ids first on a shared millisecond, as the doc shapes it', async () => {
    const { body } = await list('limit=1000');
    const truth = server().messages('relation', RELATION);
    expect(body.data.map((info: { id: string }) => info.id)).toEqual(truth.map((m) => m.id));
    expect(typeof body.data[0].createAt).toBe('string');
    const quoted = body.data.find((info: { quote: unknown }) => info.quote !== null);
    expect(truth.find((m) => m.id === quoted.id)?.replyTo).toBe(quoted.quote.id);
  });

  it('returns a tie cluster larger than the page whole only when the limit is large enough', async () => {
    const truth = server().messages('relation', RELATION);
    const tieTime = truth.find((m) => truth.filter((n) => n.time === m.time).length === TIE.size)!.time;
    const small = await list(`maxCreateAt=${tieTime}&limit=20`);
    expect(small.body.data).toHaveLength(20);
    expect(small.body.data.every((info: { createAt: string }) => info.createAt === String(tieTime))).toBe(true);
    const large = await list(`maxCreateAt=${tieTime}&limit=40`);
    const tied = large.body.data.filter((info: { createAt: string }) => info.createAt === String(tieTime));
    expect(tied).toHaveLength(TIE.size);
  });

  it('answers errors the way the doc does: HTTP 200 with a string code', async () => {
    const url = server().url;
    expect((await getJson(`${url}/api/v1/message/list?limit=5`, headers)).body).toEqual({
      code: '10112',
      desc: 'parameter error',
      data: null,
    });
    expect((await getJson(`${url}/api/v1/message/list?channelUuid=nope`, headers)).body.code).toBe('10120');
    const wrongKey = await getJson(`${url}/api/v1/message/list?channelUuid=${RELATION}`, { ...headers, ApiKey: 'x' });
    expect(wrongKey).toEqual({ status: 200, body: { code: '10120', desc: 'permission denied', data: null } });
    const peer = await getJson(`${url}/api/v1/message/list?toRelationId=peer-1`, headers);
    expect(peer.body.data).toHaveLength(5);
    expect((await getJson(`${url}/api/v1/message/list?channelUuid=peer-1`, headers)).body.code).toBe('10120');
  });
});

describe('page-numbered providers', () => {
  const server = useServer({
    auth: { token: 's3cret' },
    channels: [
      { provider: 'discuz', id: '12', count: 103 },
      { provider: 'dishawang', id: '26', count: 95 },
      { provider: 'dishawang', id: 'empty', count: 0 },
    ],
  });
  const bearer = { Authorization: 'Bearer s3cret' };

  it.each([
    ['-createdAt', 'page%5Bnumber%5D', 'filter%5Bdialog_id%5D'],
    ['createdAt', 'page[number]', 'filter[dialog_id]'],
  ])('discuz pages 1..last sorted %s cover the ground truth once (brackets as %s)', async (sort, number, filter) => {
    const ids: string[] = [];
    let last = Infinity;
    for (let page = 1; page <= last; page++) {
      const url = `${server().url}/api/dialog/message?${filter}=12&include=user,attachment&${number}=${page}&page[limit]=7&sort=${sort}`;
      const { status, body } = await getJson(url, bearer);
      expect(status).toBe(200);
      last = body.meta.pageCount;
      expect(body.meta.total).toBe(103);
      expect(body.links.next === undefined).toBe(page === last);
      expect(body.links.prev === undefined).toBe(page === 1);
      const users = new Set(body.included.filter((r: any) => r.type === 'users').map((r: any) => r.id));
      for (const item of body.data) {
        expect(users.has(item.relationships.user.data.id)).toBe(true);
        ids.push(item.id);
      }
    }
    expect(last).toBe(15);
    const truth = server().messages('discuz', '12').map((m) => m.id);
    expect(ids).toEqual(sort === 'createdAt' ? [...truth].reverse() : truth);
  });

  it('discuz caps page[limit], follows absolute links and refuses unknown dialogs and bad tokens', async () => {
    const first = await getJson(`${server().url}/api/dialog/message?filter[dialog_id]=12&page[limit]=500`, bearer);
    expect(first.body.data).toHaveLength(50);
    expect(first.body.links.next.startsWith(`${server().url}/api/dialog/message?`)).toBe(true);
    const next = await getJson(first.body.links.next, bearer);
    expect(next.body.data[0].id).toBe(server().messages('discuz', '12')[50]!.id);
    const missing = await getJson(`${server().url}/api/dialog/message?filter[dialog_id]=99`, bearer);
    expect(missing.status).toBe(404);
    expect(missing.body.errors[0].code).toBe('model_not_found');
    const denied = await getJson(`${server().url}/api/dialog/message?filter[dialog_id]=12`, { Authorization: 'Bearer x' });
    expect(denied.status).toBe(401);
  });

  it('dishawang pages 1..last_page cover the ground truth once, and a page beyond is empty', async () => {
    const ids: number[] = [];
    let last = Infinity;
    for (let page = 1; page <= last; page++) {
      const { body } = await getJson(`${server().url}/api/v1/im/26/message/${page}`, { token: 's3cret' });
      expect(body.code).toBe(1);
      last = body.data.last_page;
      ids.push(...body.data.data.map((item: { id: number }) => item.id));
    }
    expect(last).toBe(10);
    expect(ids.map(String)).toEqual(server().messages('dishawang', '26').map((m) => m.id));
    const beyond = await getJson(`${server().url}/api/v1/im/26/message/11`, { token: 's3cret' });
    expect(beyond.body.data.data).toEqual([]);
    const empty = await getJson(`${server().url}/api/v1/im/empty/message/1`, { token: 's3cret' });
    expect(empty.body.data).toMatchObject({ total: 0, last_page: 1, data: [] });
  });

  it('dishawang refuses unknown conversations and bad tokens with code 0', async () => {
    expect((await getJson(`${server().url}/api/v1/im/404/message/1`, { token: 's3cret' })).body).toEqual({
      code: 0,
      msg: '会话不存在',
      data: null,
    });
    expect((await getJson(`${server().url}/api/v1/im/26/message/1`, { token: 'x' })).body.msg).toBe('请先登录');
  });
});

describe('the default channels', () => {
  const server = useServer({ channels: DEFAULT_CHANNELS });
  const sample = (provider: string): any =>
    JSON.parse(readFileSync(new URL(`../../fixtures/${provider}/sample.json`, import.meta.url), 'utf8'));
  const keys = (value: object) => Object.keys(value).sort();

  it('answer with the fields of the recorded doc samples', async () => {
    const relation = await getJson(`${server().url}/api/v1/message/list?channelUuid=4f326124812c41448bc587bf6b2eaf42`);
    expect(keys(relation.body)).toEqual(keys(sample('relation')));
    expect(keys(relation.body.data[0])).toEqual(keys(sample('relation').data[0]));

    const dishawang = await getJson(`${server().url}/api/v1/im/26/message/1`);
    expect(keys(dishawang.body.data)).toEqual(keys(sample('dishawang').data));
    expect(keys(dishawang.body.data.data[0])).toEqual(keys(sample('dishawang').data.data[0]));

    const discuz = await getJson(`${server().url}/api/dialog/message?filter[dialog_id]=12&include=user&page[limit]=50`);
    const plain = discuz.body.data.find((item: any) => item.attributes.attachment_id === undefined);
    expect(keys(plain)).toEqual(keys(sample('discuz').data[0]));
    expect(keys(plain.attributes)).toEqual(keys(sample('discuz').data[0].attributes));
    expect(keys(discuz.body.included[0].attributes)).toEqual(keys(sample('discuz').included[0].attributes));
    expect(plain.attributes.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$/);
  });
});

describe('insertEvery', () => {
  const server = useServer({ channels: [{ provider: 'dishawang', id: '26', count: 30, insertEvery: 1 }] });

  it('shifts newest-first pages: the next page repeats the last message of the previous one', async () => {
    const page = async (n: number) =>
      (await getJson(`${server().url}/api/v1/im/26/message/${n}`)).body.data as { total: number; data: { id: number }[] };
    const one = await page(1);
    const two = await page(2);
    expect(two.total).toBe(one.total + 1);
    expect(two.data[0]!.id).toBe(one.data.at(-1)!.id);
    expect(server().messages('dishawang', '26')).toHaveLength(32);
  });
});

describe('faults', () => {
  const server = useServer({
    channels: [
      { provider: 'relation', id: 'r', count: 40 },
      { provider: 'discuz', id: '1', count: 10 },
      { provider: 'dishawang', id: '2', count: 10, insertEvery: 1 },
    ],
  });
  const relationUrl = () => `${server().url}/api/v1/message/list?channelUuid=r`;

  it('applies a rule with nth and times to exactly those requests', async () => {
    server().clearFaults();
    server().resetLog();
    server().addFault({ provider: 'relation', channel: 'r', nth: 2, times: 2, kind: 'status', status: 503, headers: { 'Retry-After': '2' } });
    const statuses: number[] = [];
    for (let k = 0; k < 5; k++) statuses.push((await fetch(relationUrl())).status);
    expect(statuses).toEqual([200, 503, 503, 200, 200]);
    expect(server().log.map((entry) => entry.fault)).toEqual([undefined, 'status', 'status', undefined, undefined]);
  });

  it('sends broken bodies: truncated JSON, an HTML page, a reset, a huge stream', async () => {
    server().clearFaults();
    server().addFault({ kind: 'truncate', nth: 1 });
    server().addFault({ kind: 'html', nth: 2, status: 200 });
    server().addFault({ kind: 'reset', nth: 3 });
    server().addFault({ kind: 'huge', nth: 4, bytes: 3 * 1024 * 1024 });

    const cut = await fetch(relationUrl());
    expect(cut.status).toBe(200);
    await expect(cut.text().then((text) => JSON.parse(text) as unknown)).rejects.toThrow();
    const html = await fetch(relationUrl());
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    await html.text();
    await expect(fetch(relationUrl()).then((r) => r.text())).rejects.toThrow();
    const huge = await (await fetch(relationUrl())).text();
    expect(huge).toHaveLength(3 * 1024 * 1024);
    expect(JSON.parse(huge).code).toBe('0');
  });

  it.each(['relation', 'discuz', 'dishawang'] as const)('unauthorized answers %s with its native 401', async (provider) => {
    server().clearFaults();
    server().addFault({ provider, kind: 'unauthorized' });
    const path = {
      relation: '/api/v1/message/list?channelUuid=r',
      discuz: '/api/dialog/message?filter[dialog_id]=1',
      dishawang: '/api/v1/im/2/message/1',
    }[provider];
    const { status, body } = await getJson(`${server().url}${path}`);
    expect(status).toBe(401);
    expect(JSON.stringify(body)).toMatch(/10120|access_denied|请先登录/);
  });

  it('survives a client that gives up during a delay, and counts only normal answers toward insertEvery', async () => {
    server().clearFaults();
    server().addFault({ provider: 'dishawang', nth: 1, kind: 'delay', ms: 2000 });
    server().addFault({ provider: 'dishawang', nth: 2, kind: 'status', status: 500 });
    const url = `${server().url}/api/v1/im/2/message/1`;
    await expect(fetch(url, { signal: AbortSignal.timeout(50) })).rejects.toThrow();
    expect((await fetch(url)).status).toBe(500);
    expect(server().messages('dishawang', '2')).toHaveLength(10);
    expect((await getJson(url)).body.data.total).toBe(10);
    expect(server().messages('dishawang', '2')).toHaveLength(11);
  });
});

describe('request log', () => {
  const server = useServer({ latencyMs: 50, channels: [{ provider: 'relation', id: 'r', count: 10 }] });

  it('records timings that show requests overlapping', async () => {
    await Promise.all(Array.from({ length: 4 }, () => fetch(`${server().url}/api/v1/message/list?channelUuid=r`)));
    expect(server().maxInFlight()).toBe(4);
    expect(server().maxInFlight('relation', 'r')).toBe(4);
    const [a, b] = server().log;
    // latencyMs from arrival to answer, never sooner (a timer alone can fire early against the clock)
    for (const entry of server().log) expect(entry.end! - entry.start).toBeGreaterThanOrEqual(50);
    expect(b!.start).toBeLessThan(a!.end!);
  });
});

describe('a million messages', () => {
  const server = useServer({
    channels: [
      { provider: 'relation', id: 'big', count: 1_000_000 },
      { provider: 'discuz', id: '1', count: 1_000_000 },
      { provider: 'dishawang', id: '2', count: 1_000_000 },
    ],
  });

  it('answers page 1, a deep page and a deep cursor quickly', async () => {
    const started = performance.now();
    const paths = [
      '/api/v1/message/list?channelUuid=big&limit=100',
      '/api/v1/message/list?channelUuid=big&limit=100&maxCreateAt=1730000000000',
      '/api/dialog/message?filter[dialog_id]=1&include=user&page[number]=19999',
      '/api/v1/im/2/message/1',
      '/api/v1/im/2/message/99999',
    ];
    for (const path of paths) {
      const { status, body } = await getJson(`${server().url}${path}`);
      expect(status).toBe(200);
      expect(JSON.stringify(body).length).toBeGreaterThan(500);
    }
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('node fixtures/server.js', () => {
  it('prints its url as one JSON line and stops on SIGTERM', async () => {
    const script = fileURLToPath(new URL('../../fixtures/server.js', import.meta.url));
    const child = spawn(process.execPath, [script, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
      const { url } = JSON.parse(line) as { url: string };
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const { body } = await getJson(`${url}/api/v1/im/26/message/1`);
      expect(body.data.total).toBe(95);
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  });
});
