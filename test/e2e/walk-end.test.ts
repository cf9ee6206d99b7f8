/**
 * The walk-end rule (DESIGN.md section 4b) against small servers on 127.0.0.1
 * that lie about where a history ends: offsets that go backwards, empty pages
 * announced without end, and the opposite — a timeline whose pages hold only
 * events the definition filters out, which is progress, not a stuck server.
 * Each through the real CLI and a definition in the config, each export
 * checked against the server's own list; hangs are bounded by the harness's
 * timeout, never by a timing assertion.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { createSandbox, runCli, type RunResult, type Sandbox } from '../helpers/cli.js';
import { scriptedServer, type Cleanup } from '../helpers/servers.js';

const cleanups: Cleanup[] = [];
const boxes: Sandbox[] = [];
afterAll(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
  for (const box of boxes) box.cleanup();
});

const T0 = Date.UTC(2024, 0, 1);
const message = (i: number) => ({ id: `m${i}`, ts: T0 + i * 60_000, user: `u${i % 3}`, text: `message ${i}` });
const fields = { id: 'id', time: { path: 'ts', format: 'epoch-ms' }, sender: { id: 'user' }, text: 'text' };

function sandbox(providers: Record<string, unknown>): Sandbox {
  const box = createSandbox();
  boxes.push(box);
  mkdirSync(dirname(box.config), { recursive: true });
  writeFileSync(box.config, JSON.stringify({ profiles: {}, providers }), { mode: 0o600 });
  return box;
}

async function exportTo(box: Sandbox, url: string, provider: string, extra: string[]): Promise<{ result: RunResult; ids: string[] }> {
  const out = join(box.dir, `${provider}.jsonl`);
  const result = await runCli(['dump', '--provider', provider, '--channel', 'room', '--base-url', url, '--rate', '1000', '--no-progress', '-o', out, ...extra], {
    env: box.env(),
    timeoutMs: 60_000,
  });
  let text = '';
  try {
    text = readFileSync(out, 'utf8');
  } catch {
    // nothing written
  }
  return { result, ids: text.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { id: string }).id) };
}

const explain = (result: RunResult) => `exit ${result.code}\n--- stderr\n${result.stderr}`;
const query = (url: string | undefined) => new URL(url ?? '/', 'http://x').searchParams;
const send = (res: import('node:http').ServerResponse, body: unknown) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

describe('a walk that ends with fewer messages than the API announced', () => {
  it('offsets that go backwards (offset ≥ 4 serves offset − 4), total 10: exit 5 naming the 4 never served, the 6 written', async () => {
    const history = Array.from({ length: 10 }, (_, i) => message(i));
    const server = await scriptedServer(cleanups, (req, res) => {
      const q = query(req.url);
      const offset = Number(q.get('offset') ?? 0);
      const limit = Number(q.get('limit') ?? 50);
      const from = offset >= 4 ? offset - 4 : offset;
      send(res, { messages: history.slice(from, from + limit), total: history.length });
    });
    const backwards = {
      request: { path: '/history', query: { room: '{channel}' } },
      paging: { type: 'offset', param: 'offset', size: { param: 'limit', default: 50, max: 100 } },
      order: 'oldest-first',
      records: 'messages',
      end: { total: 'total' },
      fields,
    };
    const box = sandbox({ backwards });
    const { result, ids } = await exportTo(box, server.url, 'backwards', ['--page-size', '2']);
    // before: 6 distinct written, exit 0
    expect(result.code, explain(result)).toBe(5);
    expect(ids.sort()).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
    const said = result.stderr.split('\n').filter((line) => line.includes('announced 10 messages'));
    expect(said, result.stderr).toHaveLength(1);
    expect(said[0]).toMatch(/held 6 distinct ones.*\(4 messages missing\)/);
    // the pages of only messages already read were read again before they were believed
    expect(server.hits.length).toBeGreaterThan(5);
  });
});

describe('no endless walks: pages with no record at all, announced without end', () => {
  it('a next token that is new every time, has_more true for ever, empty pages: stops after 10, exit 5 naming them', async () => {
    const server = await scriptedServer(cleanups, (_req, res, n) => send(res, { messages: [], has_more: true, next: `token-${n}` }));
    const endless = {
      request: { path: '/history', query: { room: '{channel}' } },
      paging: { type: 'cursor', param: 'cursor', from: { body: 'next' } },
      order: 'newest-first',
      records: 'messages',
      end: { hasMore: 'has_more' },
      fields,
    };
    const { result, ids } = await exportTo(sandbox({ endless }), server.url, 'endless', []);
    expect(result.code, explain(result)).toBe(5);
    expect(ids).toEqual([]);
    expect(result.stderr).toMatch(/pages 1-10 held no record at all though the server said more follow each time; the walk stopped there .*how many are missing is unknown/);
    expect(server.hits.length).toBeLessThanOrEqual(12);
  });

  it('page numbers with lastPage 1e15 and empty pages after the first: 3 written, exit 5 naming the empty pages', async () => {
    const server = await scriptedServer(cleanups, (req, res) => {
      const page = Number(query(req.url).get('page') ?? 1);
      send(res, { data: page === 1 ? [message(2), message(1), message(0)] : [], last_page: 1e15 });
    });
    const vast = {
      request: { path: '/history', query: { room: '{channel}' } },
      paging: { type: 'pages', param: 'page', first: 1, size: { default: 3 } },
      order: 'newest-first',
      records: 'data',
      end: { lastPage: 'last_page' },
      fields,
    };
    const { result, ids } = await exportTo(sandbox({ vast }), server.url, 'vast', ['--concurrency', '1']);
    expect(result.code, explain(result)).toBe(5);
    expect(ids.sort()).toEqual(['m0', 'm1', 'm2']);
    expect(result.stderr).toMatch(/pages 2-11 held no record at all though the server announced 1000000000000000 pages; the walk stopped there/);
    // one line for the run of empty pages, not one per page
    expect(result.stderr).not.toMatch(/came back with/);
  });

  it('offsets with total 1e9 and nothing past the first 5: 5 written, exit 5 naming the empty pages and what the total leaves', async () => {
    const history = Array.from({ length: 5 }, (_, i) => message(i));
    const server = await scriptedServer(cleanups, (req, res) => {
      const q = query(req.url);
      const offset = Number(q.get('offset') ?? 0);
      send(res, { messages: history.slice(offset, offset + Number(q.get('limit') ?? 5)), total: 1e9 });
    });
    const huge = {
      request: { path: '/history', query: { room: '{channel}' } },
      paging: { type: 'offset', param: 'offset', size: { param: 'limit', default: 5, max: 100 } },
      order: 'oldest-first',
      records: 'messages',
      end: { total: 'total' },
      fields,
    };
    const { result, ids } = await exportTo(sandbox({ huge }), server.url, 'huge', []);
    expect(result.code, explain(result)).toBe(5);
    expect(ids.sort()).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(result.stderr).toMatch(/pages 2-11 held no record at all .*the walk stopped there.*\(999999995 messages missing\)/);
    expect(result.stderr).not.toMatch(/came back with/);
  });
});

describe('pages whose records are all filtered out are progress', () => {
  it('a Matrix-style timeline with pages of joins between messages, --page-size 5: exit 0, every message once', async () => {
    // newest first: 3 messages, 17 joins, 4 messages, 11 joins, 2 messages
    const kinds = [...'MMM', ...'J'.repeat(17), ...'MMMM', ...'J'.repeat(11), ...'MM'];
    const events = kinds.map((kind, k) => ({
      event_id: `$e${k}`,
      type: kind === 'M' ? 'm.room.message' : 'm.room.member',
      origin_server_ts: T0 + (kinds.length - k) * 60_000,
      sender: '@a:example.org',
      content: kind === 'M' ? { body: `hello ${k}` } : { membership: 'join' },
    }));
    const server = await scriptedServer(cleanups, (req, res) => {
      const q = query(req.url);
      const from = Number(q.get('from') ?? 0);
      const limit = Number(q.get('limit') ?? 10);
      const chunk = events.slice(from, from + limit);
      send(res, { chunk, start: String(from), ...(from + limit < events.length ? { end: String(from + limit) } : {}) });
    });
    const matrix = {
      request: { path: '/rooms/{channel}/messages', query: { dir: 'b' } },
      paging: { type: 'cursor', param: 'from', from: { body: 'end' }, size: { param: 'limit', default: 10, max: 100 } },
      order: 'newest-first',
      records: 'chunk',
      filter: "type == 'm.room.message'",
      fields: { id: 'event_id', time: { path: 'origin_server_ts', format: 'epoch-ms' }, sender: { id: 'sender' }, text: 'content.body' },
    };
    const { result, ids } = await exportTo(sandbox({ matrix }), server.url, 'matrix', ['--page-size', '5']);
    // before: exit 4, "3 answers in a row held only messages already read; the server does not move on"
    expect(result.code, explain(result)).toBe(0);
    expect(ids.sort()).toEqual(events.filter((e) => e.type === 'm.room.message').map((e) => e.event_id).sort());
    expect(server.hits).toHaveLength(Math.ceil(events.length / 5));
  });
});

describe('a stuck server is told as what it did, then the possible causes, in the terms of the definition in force', () => {
  it('a time-cursor definition whose server ignores the bound: its own parameter named, not relation\'s maxCreateAt', async () => {
    const newest = Array.from({ length: 5 }, (_, i) => message(100 - i));
    const server = await scriptedServer(cleanups, (_req, res) => send(res, { items: newest }));
    const timeline = {
      request: { path: '/timeline', query: { room: '{channel}' } },
      paging: { type: 'time', param: 'before_ms', inclusive: false, size: { param: 'count', default: 5, max: 50 } },
      order: 'newest-first',
      records: 'items',
      fields,
    };
    const { result } = await exportTo(sandbox({ timeline }), server.url, 'timeline', []);
    expect(result.code, explain(result)).toBe(4);
    // before: "the server answered maxCreateAt=… ; hint: check --base-url points at the relation API"
    expect(result.stderr).not.toMatch(/maxCreateAt|relation/);
    expect(result.stderr).toMatch(/\(before_ms\), the server answered with newer ones: it ignores the time bound/);
    expect(result.stderr).toMatch(/possible causes: the server does not read before_ms/);
  });

  it('a next token the server sends twice: what the server did first, then the causes (not "check paging.from" alone)', async () => {
    const server = await scriptedServer(cleanups, (_req, res, n) => send(res, { messages: [message(100 - n)], next: 'same-token' }));
    const looping = {
      request: { path: '/history', query: { room: '{channel}' } },
      paging: { type: 'cursor', param: 'cursor', from: { body: 'next' } },
      order: 'newest-first',
      records: 'messages',
      fields,
    };
    const { result } = await exportTo(sandbox({ looping }), server.url, 'looping', []);
    expect(result.code, explain(result)).toBe(4);
    expect(result.stderr).toMatch(/the server sent back a next token it had already sent; following it would loop/);
    expect(result.stderr).toMatch(/possible causes: the server does not move on .*, or the definition's paging\.from names the current position/);
  });
});
