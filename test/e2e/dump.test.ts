/**
 * End to end: the built binary, a real pipe into jq, and `npm run demo`.
 * stdout must carry JSON lines and nothing else, whatever the messages hold.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createHistory } from '../../fixtures/history.js';
import { DEFAULT_CHANNELS, startFixtureServer } from '../../fixtures/server.js';
import type { FixtureServer } from '../../fixtures/server.js';
import { createSandbox, jqCompact, run, runCli, runCliPiped, type Sandbox } from '../helpers/cli.js';
import { chronological, exportProblems, expectedLine, linesOf } from '../helpers/ground-truth.js';

const CHANNEL = 'e2e0000000000000000000000000e2e0';
const BULK = 'e2e0000000000000000000000000e2e1';
const KEYS = ['id', 'provider', 'channel', 'timestamp', 'sender', 'type', 'text', 'replyTo', 'editedAt', 'deleted', 'attachments'];

describe('chat-export dump | jq -c .', () => {
  let server: FixtureServer;
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = createSandbox();
    // hostile: every 7th text is one that breaks naive JSON, CSV, Markdown or terminal output
    server = await startFixtureServer({
      channels: [
        { provider: 'relation', id: CHANNEL, count: 700, hostile: true, ties: [{ at: 200, size: 70 }] },
        { provider: 'relation', id: BULK, count: 6000 },
      ],
    });
  });
  afterAll(async () => {
    await server.close();
    sandbox.cleanup();
  });
  const args = () => ['dump', '--provider', 'relation', '--channel', CHANNEL, '--base-url', server.url, '--rate', '1000'];

  it('jq parses every line through a real pipe, and reads back exactly what was written', async () => {
    const truth = server.messages('relation', CHANNEL);
    const piped = await runCliPiped(args(), 'jq -c .', { env: sandbox.env() });
    expect(piped.cli.code).toBe(0);
    expect(piped.consumer.code).toBe(0);
    expect(piped.consumer.stderr).toBe('');
    const viaJq = linesOf(piped.consumer.stdout);
    expect(viaJq).toHaveLength(700);
    const expected = chronological(truth).map((m) => expectedLine('relation', CHANNEL, m));
    expect(viaJq.map((line) => JSON.parse(line))).toEqual(expected.map((line) => JSON.parse(line)));
  });

  it('stdout is nothing but JSON lines in contract key order, equal to the ground truth; progress and notes go to stderr', async () => {
    const truth = server.messages('relation', CHANNEL);
    const result = await runCli(args(), { env: sandbox.env() });
    expect(result.code).toBe(0);
    expect(result.stdout.endsWith('\n')).toBe(true);
    const lines = result.stdout.slice(0, -1).split('\n');
    expect(lines).toHaveLength(700);
    for (const line of lines) {
      const value = JSON.parse(line);
      expect(typeof value).toBe('object');
      expect(Object.keys(value)).toEqual(KEYS);
    }
    // text exactly as the server sent it, hostile ones included (ANSI, NUL, CR, bidi…)
    expect(exportProblems({ provider: 'relation', channel: CHANNEL, lines, start: truth, end: truth, order: 'asc' })).toEqual([]);
    expect(lines.some((line) => line.includes('\\u001b[31m'))).toBe(true);

    // jq on the captured bytes agrees line for line
    const jq = await jqCompact(result.stdout);
    expect(jq.code).toBe(0);
    expect(linesOf(jq.stdout)).toHaveLength(lines.length);
    // nothing that is not JSON slipped into stdout: the summary is on stderr
    expect(result.stderr).not.toBe('');
    expect(result.stdout).not.toContain('chat-export:');
  });

  it('-q prints nothing at all on success, and stdout is unchanged', async () => {
    const normal = await runCli(args(), { env: sandbox.env() });
    const quiet = await runCli([...args(), '-q'], { env: sandbox.env() });
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(quiet.stdout).toBe(normal.stdout);
  });

  it('a slow reader (backpressure on the pipe) gets every line, and stderr stays clean', async () => {
    const truth = server.messages('relation', BULK);
    // the reader starts a second late: stdout fills the pipe and must wait for 'drain' again and again
    const piped = await runCliPiped(
      ['dump', '--provider', 'relation', '--channel', BULK, '--base-url', server.url, '--rate', '1000', '--page-size', '1000'],
      'sleep 1; cat',
      { env: sandbox.env() },
    );
    expect(piped.cli.code).toBe(0);
    const lines = linesOf(piped.consumer.stdout);
    expect(exportProblems({ provider: 'relation', channel: BULK, lines, start: truth, end: truth, order: 'asc' })).toEqual([]);
    // e.g. no MaxListenersExceededWarning from listeners left behind on every wait for 'drain'
    expect(piped.cli.stderr).not.toMatch(/Warning|warning/);
  });

  it('a failed run writes nothing to stdout, and jq sees an empty stream', async () => {
    const piped = await runCliPiped(
      ['dump', '--provider', 'relation', '--channel', 'not-a-member-of-this', '--base-url', server.url, '--rate', '1000'],
      'jq -c .',
      { env: sandbox.env() },
    );
    expect(piped.cli.code).toBe(3);
    expect(piped.consumer.code).toBe(0);
    expect(piped.consumer.stdout).toBe('');
    expect(piped.cli.stderr).toMatch(/not-a-member-of-this/);
  });
});

describe('many pages in flight', () => {
  let server: FixtureServer;
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = createSandbox();
    server = await startFixtureServer({
      channels: [
        { provider: 'discuz', id: '12', count: 600, seed: 2 },
        { provider: 'dishawang', id: '26', count: 400, seed: 3 },
      ],
    });
  });
  afterAll(async () => {
    await server.close();
    sandbox.cleanup();
  });

  // Each page waiting for its turn at the rate limit listened on the walk's signal: the 11th printed Node's warning.
  it.each([
    ['discuz', '12', 600],
    ['dishawang', '26', 400],
  ] as const)('%s --concurrency 16: exact, and no MaxListenersExceededWarning on stderr', async (provider, channel, count) => {
    const result = await runCli(
      ['dump', '--provider', provider, '--channel', channel, '--base-url', server.url, '--no-progress', '--rate', '200', '--concurrency', '16', '--page-size', '10'],
      { env: sandbox.env() },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(new Set(linesOf(result.stdout).map((line) => (JSON.parse(line) as { id: string }).id)).size).toBe(count);
    expect(result.stderr).not.toMatch(/MaxListenersExceededWarning|memory leak/);
  });
});

describe('npm run demo', () => {
  let sandbox: Sandbox;
  beforeAll(() => {
    sandbox = createSandbox();
  });
  afterAll(() => sandbox.cleanup());

  it('prints the generated relation history, oldest first, exactly', async () => {
    const result = await run('npm', ['run', '-s', 'demo'], { env: sandbox.env(), timeoutMs: 40_000 });
    expect(result.code).toBe(0);
    const lines = linesOf(result.stdout);
    // The demo's files are served by its own server, on a port chosen as it starts.
    const server = /"avatar":"(http:\/\/127\.0\.0\.1:\d+)\/media\//.exec(result.stdout)?.[1];
    expect(server).toBeDefined();
    const spec = { ...DEFAULT_CHANNELS.find((channel) => channel.provider === 'relation')!, mediaBase: 'self' };
    const truth = createHistory(spec, { selfUrl: () => server! }).messages();
    expect(lines).toHaveLength(spec.count);
    expect(lines).toEqual(chronological(truth).map((m) => expectedLine('relation', spec.id, m)));
    // oldest first, strictly by (time, id)
    const times = lines.map((line) => Date.parse(JSON.parse(line).timestamp));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    // the 60-message tie cluster is in it whole
    const counts = new Map<number, number>();
    for (const time of times) counts.set(time, (counts.get(time) ?? 0) + 1);
    expect(Math.max(...counts.values())).toBe(60);
  });

  it('with --media -o demo.html: a complete offline page, every picture and avatar downloaded from the fixture server', async () => {
    const out = join(sandbox.dir, 'demo', 'demo.html');
    mkdirSync(dirname(out), { recursive: true });
    const result = await run('npm', ['run', '-s', 'demo', '--', '--media', '-o', out], { env: sandbox.env(), timeoutMs: 40_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/media files: \d+ downloaded, 0 already in the media directory\n/);
    expect(result.stderr).not.toMatch(/could not be downloaded|unreachable|retry/);
    const page = readFileSync(out, 'utf8');
    const sources = [...page.matchAll(/<img [^>]*src="([^"]+)"/g)].map((m) => m[1]!);
    expect(sources.length).toBeGreaterThan(20);
    expect(sources.filter((src) => !/^media\/[0-9a-f]{2}\/[0-9a-f]{32}\.png$/.test(src))).toEqual([]);
    for (const src of new Set(sources)) expect(existsSync(join(dirname(out), src))).toBe(true);
  });
});
