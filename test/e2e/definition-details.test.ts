/**
 * DESIGN.md section 4b's "details that are easy to get wrong" (issue 24)
 * through the real CLI against scripted servers: what the server received,
 * what was exported, the exit code and the line on stderr.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ServerResponse } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';

import { createSandbox, runCli, type RunResult, type Sandbox } from '../helpers/cli.js';
import { scriptedServer, type Cleanup } from '../helpers/servers.js';

const cleanups: Cleanup[] = [];
const boxes: Sandbox[] = [];
afterAll(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
  for (const box of boxes) box.cleanup();
});

const CHANNEL = 'dev "ops" \\ a/b ünï';

/** A Zulip-shaped API: `narrow` is JSON, errors are `{ result: "error", code, msg }`. */
const zulip = {
  auth: [{ type: 'bearer', from: 'token' }],
  request: { path: '/api/v1/messages', query: { narrow: [{ operator: 'channel', operand: '{channel}' }], apply_markdown: false } },
  paging: { type: 'offset', param: 'offset', size: { param: 'num', default: 2, max: 200 } },
  order: 'oldest-first',
  envelope: {
    success: { path: 'result', equals: ['success'] },
    code: 'code',
    message: 'msg',
    codes: { BAD_REQUEST: { kind: 'usage' }, BAD_NARROW: { kind: 'usage', status: [400] } },
  },
  records: 'messages',
  end: { total: { header: 'X-Total-Count' } },
  fields: { id: 'id', time: { path: 'timestamp', format: 'epoch-s' }, sender: { id: 'sender_id' }, text: 'content' },
};

const MESSAGES = [1, 2, 3, 4, 5].map((n) => ({ id: n, timestamp: 1704067200 + n + 0.9996, sender_id: 7, content: `m${n}` }));

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

function sandbox(providers: Record<string, unknown>, profiles: Record<string, unknown> = {}): Sandbox {
  const box = createSandbox();
  boxes.push(box);
  mkdirSync(dirname(box.config), { recursive: true });
  writeFileSync(box.config, JSON.stringify({ profiles, providers }), { mode: 0o600 });
  return box;
}

function explain(result: RunResult): string {
  return `exit ${result.code}${result.timedOut ? ' (killed: timed out)' : ''}\nstderr: ${result.stderr.slice(0, 2000)}`;
}

/** Serves MESSAGES by offset, only to a narrow naming CHANNEL; `first` may answer the first request instead. */
async function zulipServer(first?: (res: ServerResponse) => void) {
  const operands: unknown[] = [];
  const server = await scriptedServer(cleanups, (req, res, n) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let narrow: Array<{ operand?: unknown }> = [];
    try {
      narrow = JSON.parse(url.searchParams.get('narrow') ?? '');
    } catch {
      return json(res, 400, { result: 'error', code: 'BAD_REQUEST', msg: 'narrow is not JSON' });
    }
    operands.push(narrow[0]?.operand);
    if (narrow[0]?.operand !== CHANNEL) return json(res, 400, { result: 'error', code: 'BAD_NARROW', msg: 'Invalid narrow operand' });
    if (n === 1 && first) return first(res);
    const offset = Number(url.searchParams.get('offset') ?? 0);
    const num = Number(url.searchParams.get('num') ?? 2);
    json(res, 200, { result: 'success', messages: MESSAGES.slice(offset, offset + num) }, { 'X-Total-Count': String(MESSAGES.length) });
  });
  return { ...server, operands };
}

function dump(url: string, box: Sandbox, extra: string[] = []): Promise<RunResult> {
  return runCli(['dump', '--provider', 'zulip', '--channel', CHANNEL, '--base-url', url, '--rate', '1000', '--no-progress', ...extra], {
    env: box.env(),
    timeoutMs: 30_000,
  });
}

describe('a Zulip-shaped definition, by the README alone', () => {
  it('{channel} inside a JSON-valued query parameter is filled and JSON-escaped: a channel named dev "ops" \\ a/b ünï is exported exactly, times truncated', async () => {
    const server = await zulipServer();
    const result = await dump(server.url, sandbox({ zulip }));
    expect(result.code, explain(result)).toBe(0);
    expect(server.operands.every((operand) => operand === CHANNEL)).toBe(true);
    const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.map((m) => [m.id, m.timestamp, m.channel])).toEqual(
      // .9996 s is 999 ms: truncated, never rounded into the next second
      MESSAGES.map((m) => [String(m.id), new Date((Math.floor(m.timestamp) * 1000) + 999).toISOString(), CHANNEL]),
    );
  });

  it('a 500 whose body carries a code the definition maps is retried first (then exported), not exit 2 mid-walk', async () => {
    const server = await zulipServer((res) => json(res, 500, { result: 'error', code: 'BAD_REQUEST', msg: 'internal hiccup' }));
    const result = await dump(server.url, sandbox({ zulip }));
    expect(result.code, explain(result)).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(MESSAGES.length);
    expect(server.hits.length).toBeGreaterThan(3);
  });

  it('the code rule still applies to the status it names (400 BAD_NARROW: exit 2, the code said once)', async () => {
    const server = await zulipServer();
    const box = sandbox({ zulip });
    const result = await runCli(['dump', '--provider', 'zulip', '--channel', 'other', '--base-url', server.url, '--no-progress'], { env: box.env() });
    expect(result.code, explain(result)).toBe(2);
    expect(result.stderr).toContain('code BAD_NARROW Invalid narrow operand (HTTP 400');
    expect(server.hits).toHaveLength(1);
  });

  it('providers check reads a total from a response header, and warns about a placeholder it would send as written', async () => {
    const server = await zulipServer();
    const typo = { ...zulip, request: { ...zulip.request, headers: { 'X-Stream': '{stream}' } } };
    const result = await runCli(['providers', 'check', 'zulip', '--channel', CHANNEL, '--base-url', server.url], { env: sandbox({ zulip: typo }).env() });
    expect(result.code, explain(result)).toBe(0);
    expect(result.stdout).toContain('end signals: total 5,');
    expect(result.stderr).toContain('request.headers.X-Stream: {stream} is sent as written');
  });
});

describe('hostile definitions and refusals', () => {
  it('a pattern that backtracks for ever (^(a+)+$ against forty a and a !) does not hang the process: exit 4 with the message', async () => {
    const server = await scriptedServer(cleanups, (_req, res) => json(res, 200, { ok: false, error: `${'a'.repeat(40)}!` }));
    const hostile = {
      ...zulip,
      request: { path: '/api/v1/messages' },
      end: undefined,
      envelope: { success: { path: 'ok', equals: [true] }, message: 'error', messages: [{ pattern: '^(a+)+$', kind: 'auth' }] },
    };
    const box = sandbox({ zulip: hostile });
    // bounded by the harness's kill, not a timing assertion: a backtracking engine never answers
    const result = await runCli(['dump', '--provider', 'zulip', '--channel', 'c', '--base-url', server.url, '--no-progress'], { env: box.env(), timeoutMs: 20_000 });
    expect(result.timedOut, explain(result)).toBe(false);
    expect(result.code, explain(result)).toBe(4);
    expect(result.stderr).toContain(`code false ${'a'.repeat(40)}!`);
  });

  it('a 403 the definition does not describe says access was refused, not the credentials', async () => {
    const server = await scriptedServer(cleanups, (_req, res) => json(res, 403, { error: 'not_in_channel' }));
    const plain = { ...zulip, envelope: undefined, end: undefined };
    const result = await dump(server.url, sandbox({ zulip: plain }));
    expect(result.code, explain(result)).toBe(3);
    expect(result.stderr).toContain('refused access (HTTP 403)');
    expect(result.stderr).not.toContain('refused the credentials');
  });

  it('--dry-run shows the page size the run sends: --page-size 5000 lowered to the definition maximum', async () => {
    const result = await dump('http://127.0.0.1:9', sandbox({ zulip }), ['--page-size', '5000', '--dry-run']);
    expect(result.code, explain(result)).toBe(0);
    const shown = JSON.parse(result.stdout);
    expect(shown.pageSize).toBe(200);
    expect(shown.pageSizeAsked).toBe(5000);
    expect(new URL(shown.firstRequest.url).searchParams.get('num')).toBe('200');
  });

  it('providers show accepts a profile name, as providers check does', async () => {
    const box = sandbox({ zulip }, { work: { provider: 'zulip', baseUrl: 'https://chat.example' } });
    const result = await runCli(['providers', 'show', 'work'], { env: box.env() });
    expect(result.code, explain(result)).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(JSON.parse(JSON.stringify(zulip)));
    expect(result.stderr).toContain('profile "work" uses provider "zulip"');
    const unknown = await runCli(['providers', 'show', 'wrok'], { env: box.env() });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('did you mean work?');
  });
});
