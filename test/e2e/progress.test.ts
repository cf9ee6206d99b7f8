/**
 * stderr chatter (DESIGN.md section 2): progress bars only on a terminal,
 * otherwise one summary line per channel; `-q` prints nothing on success;
 * `--no-progress` turns the bars off. Terminal runs go through a real
 * pseudo-terminal (util-linux `script`, else Python's pty module).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startFixtureServer, type ChannelSpec, type FaultRule, type FixtureServer, type Provider } from '../../fixtures/server.js';
import { BIN, createSandbox, run, runCli, type RunResult, type Sandbox } from '../helpers/cli.js';
import { jsonlIds as ids, truthIds } from '../helpers/ground-truth.js';
import { formatBytes } from '../../src/progress.js';
import { readmeExample } from '../helpers/readme.js';

// 32 characters, as real relation channel ids are: the label alone nearly fills 80 columns
const LONG_RELATION = '4f326124812c41448bc587bf6b2eaf42';
const LONG_DISHAWANG = '260000000000000000000000000000026';
const CHANNELS: ChannelSpec[] = [
  { provider: 'relation', id: 'P1', count: 120 },
  { provider: 'relation', id: 'P2', count: 75 },
  { provider: 'relation', id: 'P3', count: 0 },
  { provider: 'discuz', id: '12', count: 45 },
  { provider: 'dishawang', id: '26', count: 35 },
  { provider: 'relation', id: LONG_RELATION, count: 200 },
  { provider: 'dishawang', id: LONG_DISHAWANG, count: 200 },
];

let sandbox: Sandbox;
const boxes: Sandbox[] = [];
const servers: FixtureServer[] = [];
let fast: FixtureServer;

beforeAll(async () => {
  sandbox = createSandbox();
  fast = await serve(0);
  return () => {
    sandbox.cleanup();
    for (const box of boxes) box.cleanup();
  };
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

async function serve(latencyMs: number, faults: FaultRule[] = []): Promise<FixtureServer> {
  const server = await startFixtureServer({ channels: CHANNELS, latencyMs, faults });
  servers.push(server);
  return server;
}

function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const box = createSandbox();
  boxes.push(box);
  return box.env(extra);
}

function dumpArgs(server: FixtureServer, args: string[]): string[] {
  const rate = args.includes('--rate') ? [] : ['--rate', '1000'];
  return ['dump', '--base-url', server.url, ...rate, ...args];
}

function explain(result: RunResult): string {
  return `exit ${result.code} ${result.signal ?? ''}\n--- stderr\n${result.stderr}\n--- stdout (first 2000)\n${result.stdout.slice(0, 2000)}`;
}

// Anything a progress bar draws with: escapes (colour, cursor moves, hide cursor), carriage returns, bar blocks.
const BAR_TRACES = /[\u001b\r\u2588\u2591\u2592\u2593]/;
const SUMMARY =
  /^chat-export: (\w+) (?:channel|peer) (\S+): (\d+) messages? → (\S+) \((\d+ B|\d+\.\d [KMG]iB)\), (\d+) pages?, (\d+) requests?, (\d+) retr(?:y|ies) in \d+\.\d s$/;
const TOTAL = /^chat-export: total: (\d+) channels, (\d+) messages?, (\d+ B|\d+\.\d [KMG]iB), (\d+) pages?, (\d+) requests?, (\d+) retr(?:y|ies) in \d+\.\d s$/;

describe.concurrent('without a terminal', () => {
  it('stderr holds exactly one summary line per channel and no bar', async () => {
    const channels = ['P1', 'P2', 'P3'];
    const result = await runCli(
      dumpArgs(fast, ['--provider', 'relation', ...channels.flatMap((c) => ['--channel', c]), '--page-size', '25']),
      { env: cleanEnv() },
    );
    expect(result.code, explain(result)).toBe(0);
    expect(result.stderr).not.toMatch(BAR_TRACES);
    const lines = result.stderr.split('\n');
    expect(lines.pop()).toBe('');
    expect(lines, result.stderr).toHaveLength(channels.length + 1);
    const total = TOTAL.exec(lines.pop()!);
    expect(total, result.stderr).not.toBeNull();
    const seen = new Map<string, { messages: number; pages: number; requests: number }>();
    for (const line of lines) {
      const match = SUMMARY.exec(line);
      expect(match, line).not.toBeNull();
      expect(match![1]).toBe('relation');
      expect(match![4]).toBe('stdout');
      expect(seen.has(match![2]!), `two lines for ${match![2]}`).toBe(false);
      seen.set(match![2]!, { messages: Number(match![3]), pages: Number(match![6]), requests: Number(match![7]) });
    }
    // the total adds the channels up; the bytes are what stdout received
    expect(Number(total![1])).toBe(channels.length);
    expect(Number(total![2])).toBe([...seen.values()].reduce((sum, c) => sum + c.messages, 0));
    expect(Number(total![4])).toBe([...seen.values()].reduce((sum, c) => sum + c.pages, 0));
    expect(total![3]).toBe(formatBytes(Buffer.byteLength(result.stdout)));
    expect([...seen.keys()].sort()).toEqual(channels);
    const out = ids(result.stdout);
    for (const channel of channels) {
      const truth = truthIds(fast, 'relation', channel);
      expect(seen.get(channel)!.messages, channel).toBe(truth.length);
      // every page the walk read was a request; no request is counted twice
      const requests = fast.log.filter((entry) => entry.channel === channel && entry.status === 200).length;
      expect(seen.get(channel)!.pages, channel).toBeGreaterThanOrEqual(Math.ceil(truth.length / 25));
      expect(seen.get(channel)!.pages, channel).toBeLessThanOrEqual(requests);
      // the server is shared with concurrent tests, so its log bounds the count from above only
      expect(seen.get(channel)!.requests, channel).toBeGreaterThanOrEqual(seen.get(channel)!.pages);
      expect(seen.get(channel)!.requests, channel).toBeLessThanOrEqual(fast.log.filter((entry) => entry.channel === channel).length);
    }
    expect(out).toEqual(channels.flatMap((channel) => truthIds(fast, 'relation', channel)));
  });

  it.each<[Provider, string, number]>([
    ['discuz', '12', 45],
    ['dishawang', '26', 35],
  ])('%s: one summary line that counts what was written (--limit)', async (provider, channel, count) => {
    const limit = count - 7;
    const result = await runCli(dumpArgs(fast, ['--provider', provider, '--channel', channel, '--limit', String(limit)]), { env: cleanEnv() });
    expect(result.code, explain(result)).toBe(0);
    expect(ids(result.stdout)).toHaveLength(limit);
    expect(result.stderr).not.toMatch(BAR_TRACES);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines, result.stderr).toHaveLength(1);
    const match = SUMMARY.exec(lines[0]!);
    expect(match, lines[0]).not.toBeNull();
    expect(match!.slice(1, 4)).toEqual([provider, channel, String(limit)]);
  });

  it('-q: stderr is empty on success, even where there would be a warning; the data is unchanged', async () => {
    const [quiet, warned] = await Promise.all([
      runCli(dumpArgs(fast, ['--provider', 'relation', '--channel', 'P1', '--channel', 'P2', '-q']), { env: cleanEnv({ CHAT_EXPORT_API_KEY: undefined }) }),
      runCli(dumpArgs(fast, ['--provider', 'relation', '--channel', 'P1', '--channel', 'P2']), { env: cleanEnv({ CHAT_EXPORT_API_KEY: undefined }) }),
    ]);
    expect(quiet.code, explain(quiet)).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(ids(quiet.stdout)).toEqual([...truthIds(fast, 'relation', 'P1'), ...truthIds(fast, 'relation', 'P2')]);
    // the same run without -q does say things (so -q is what silenced them)
    expect(warned.code, explain(warned)).toBe(0);
    expect(warned.stderr).toMatch(/warning: .*API key/);
    expect(warned.stdout).toBe(quiet.stdout);
  });

  it('--stats: a stats line every interval while it runs (cron logs are not silent), none with --stats 0 or -q', async () => {
    const slow = await serve(100);
    const args = (extra: string[]) => dumpArgs(slow, ['--provider', 'relation', '--channel', 'P1', '--page-size', '10', ...extra]);
    const [ticking, off, quiet] = await Promise.all([
      runCli(args(['--stats', '300ms']), { env: cleanEnv() }),
      runCli(args(['--stats', '0']), { env: cleanEnv() }),
      runCli(args(['--stats', '300ms', '-q']), { env: cleanEnv() }),
    ]);
    for (const result of [ticking, off, quiet]) {
      expect(result.code, explain(result)).toBe(0);
      expect(ids(result.stdout)).toEqual(truthIds(slow, 'relation', 'P1'));
    }
    const stats = ticking.stderr.split('\n').filter((line) => line.startsWith('chat-export: stats after '));
    expect(stats.length, ticking.stderr).toBeGreaterThanOrEqual(2);
    expect(stats[0]).toMatch(/^chat-export: stats after \d+\.\d s, 0 of 1 channel done, \d+ messages?, \d+ pages?, \d+ requests?, \d+ retr(?:y|ies), \d+ messages\/s; in flight: relation channel P1: \d+ messages?/);
    expect(ticking.stderr).not.toMatch(BAR_TRACES);
    // the summary is still the last line
    expect(ticking.stderr.trimEnd().split('\n').at(-1)).toMatch(SUMMARY);
    expect(off.stderr).not.toContain('stats after');
    expect(quiet.stderr).toBe('');
    const bad = await runCli(args(['--stats', 'often']), { env: cleanEnv() });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^chat-export: --stats: cannot use "often"/);
  });

  it('-q with -o: stderr and stdout are both empty', async () => {
    const target = join(sandbox.dir, 'quiet.csv');
    const result = await runCli(dumpArgs(fast, ['--provider', 'discuz', '--channel', '12', '-q', '-o', target]), { env: cleanEnv() });
    expect(result.code, explain(result)).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('');
    expect(readFileSync(target, 'utf8').split('\r\n')).toHaveLength(1 + 45 + 1);
  });
});

// ---------------------------------------------------------------------------

function has(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;

/**
 * Runs the CLI with stdin, stdout and stderr on a fresh pseudo-terminal and
 * returns everything written to it (escapes included) as `stdout`.
 */
function runInPty(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<RunResult> {
  const argv = [process.execPath, BIN, ...args];
  const ptyEnv = { ...env, TERM: 'xterm-256color', COLUMNS: '160', LINES: '40' };
  if (has('script')) {
    // util-linux: -q no banner, -f flush, -e the command's exit code, -c the command
    return run('script', ['-qfec', argv.map(quote).join(' '), '/dev/null'], { env: ptyEnv, timeoutMs });
  }
  const python = 'import os, pty, sys\nstatus = pty.spawn(sys.argv[1:])\nsys.exit(os.waitstatus_to_exitcode(status))';
  return run('python3', ['-c', python, ...argv], { env: ptyEnv, timeoutMs });
}

const PTY = has('script') || has('python3');

describe.skipIf(!PTY)('on a terminal (pseudo-terminal)', { concurrent: true }, () => {
  let slow: FixtureServer;
  beforeAll(async () => {
    slow = await serve(120);
  });

  it('a slow export shows a bar with its label and message count; the data goes to the -o file', async () => {
    const target = join(sandbox.dir, 'pty.jsonl');
    const result = await runInPty(dumpArgs(slow, ['--provider', 'relation', '--channel', 'P1', '--page-size', '10', '-o', target]), cleanEnv());
    expect(result.code, explain(result)).toBe(0);
    const screen = result.stdout;
    // relation says no total: counts, rate and the time reached, no bar and no ETA
    expect(screen).toMatch(/relation channel P1 · \d+ messages? · \d+ pages? · /);
    expect(screen).not.toMatch(/[\u2588\u2591]|ETA/);
    // the count grows as pages arrive
    const counts = [...screen.matchAll(/ (\d+) messages? · /g)].map((match) => Number(match[1]));
    expect(counts.length).toBeGreaterThan(1);
    expect(Math.max(...counts)).toBeGreaterThan(Math.min(...counts));
    expect(ids(readFileSync(target, 'utf8'))).toEqual(truthIds(slow, 'relation', 'P1'));
    // no data on the terminal
    expect(screen).not.toContain(truthIds(slow, 'relation', 'P1')[0]!);
    expect(screen).not.toContain('"provider"');
  });

  it('two channels at once get a bar each', async () => {
    const target = join(sandbox.dir, 'pty-two.jsonl');
    const result = await runInPty(
      dumpArgs(slow, ['--provider', 'relation', '--channel', 'P1', '--channel', 'P2', '--page-size', '10', '-o', target]),
      cleanEnv(),
    );
    expect(result.code, explain(result)).toBe(0);
    expect(result.stdout).toMatch(/relation channel P1 · \d+ messages? · \d+ pages?/);
    expect(result.stdout).toMatch(/relation channel P2 · \d+ messages? · \d+ pages?/);
    expect(ids(readFileSync(target, 'utf8'))).toEqual([...truthIds(slow, 'relation', 'P1'), ...truthIds(slow, 'relation', 'P2')]);
  });

  it('--no-progress on a terminal draws no bar (the summary line stays)', async () => {
    const target = join(sandbox.dir, 'pty-no-progress.jsonl');
    const result = await runInPty(
      dumpArgs(slow, ['--provider', 'relation', '--channel', 'P1', '--page-size', '10', '--no-progress', '-o', target]),
      cleanEnv(),
    );
    expect(result.code, explain(result)).toBe(0);
    const lines = result.stdout.split('\r\n');
    expect(lines.pop()).toBe('');
    expect(lines, result.stdout).toHaveLength(1);
    expect(lines[0]).toMatch(SUMMARY);
    expect(result.stdout.replace(/\r\n/g, '')).not.toMatch(BAR_TRACES);
    expect(ids(readFileSync(target, 'utf8'))).toEqual(truthIds(slow, 'relation', 'P1'));
  });

  it('-q on a terminal prints nothing at all', async () => {
    const target = join(sandbox.dir, 'pty-quiet.jsonl');
    const result = await runInPty(dumpArgs(slow, ['--provider', 'relation', '--channel', 'P2', '--page-size', '10', '-q', '-o', target]), cleanEnv());
    expect(result.code, explain(result)).toBe(0);
    expect(result.stdout).toBe('');
    expect(ids(readFileSync(target, 'utf8'))).toEqual(truthIds(slow, 'relation', 'P2'));
  });
});

// ---------------------------------------------------------------------------

let tmuxServers = 0;

/**
 * Runs the CLI in a detached tmux pane (a real terminal emulator) and returns
 * what the screen shows: `during` (polled while it runs) and `after` it exited.
 */
async function screenOf(
  args: string[],
  env: NodeJS.ProcessEnv,
  watch: (screen: string) => boolean = () => false,
  width = 150,
  /** keys sent (tmux send-keys) once `watch` first matches, e.g. C-c */
  keysOnWatch?: string,
): Promise<{ code: number; after: string; during: string[] }> {
  const socket = `chat-export-test-${process.pid}-${tmuxServers++}`;
  const tmux = (...rest: string[]) => run('tmux', ['-L', socket, '-f', '/dev/null', ...rest], { env: { ...env, TERM: 'xterm-256color' }, timeoutMs: 10_000 });
  const command = `${[process.execPath, BIN, ...args].map(quote).join(' ')}; echo "__EXIT__ $?"; sleep 120`;
  const started = await tmux('new-session', '-d', '-x', String(width), '-y', '40', command);
  expect(started.code, started.stderr).toBe(0);
  const during: string[] = [];
  try {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      // -J: a line the terminal wrapped comes back whole, so a summary longer than the width reads as one
      const screen = (await tmux('capture-pane', '-p', '-J')).stdout;
      const exit = /__EXIT__ (\d+)/.exec(screen);
      if (exit) return { code: Number(exit[1]), after: screen.slice(0, exit.index).trimEnd(), during };
      if (watch(screen)) {
        if (keysOnWatch !== undefined && during.length === 0) await tmux('send-keys', keysOnWatch);
        during.push(screen);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`no exit within 30 s; screen:\n${during.at(-1) ?? ''}`);
  } finally {
    await tmux('kill-server');
  }
}

describe.skipIf(!has('tmux'))('on a terminal: what stays on the screen (tmux)', { concurrent: true }, () => {
  it('a line said while bars are drawn (a long rate-limit wait) stays readable; the summaries remain, the bars go', async () => {
    const server = await serve(100, [{ provider: 'relation', channel: 'P2', nth: 3, kind: 'status', status: 429, headers: { 'Retry-After': '2' } }]);
    const target = join(sandbox.dir, 'screen-wait.jsonl');
    const result = await screenOf(
      dumpArgs(server, ['--provider', 'relation', '--channel', 'P1', '--channel', 'P2', '--page-size', '10', '-o', target]),
      cleanEnv(),
    );
    expect(result.code, result.after).toBe(0);
    const lines = result.after.split('\n').filter((line) => line.trim() !== '');
    // said once, from the start of its own line, not drawn over or appended to a bar
    const waits = lines.filter((line) => /rate.limit|Retry-After|429/i.test(line));
    expect(waits, result.after).toHaveLength(1);
    expect(waits[0]).toMatch(/^chat-export: .*\b2 ?s\b/);
    for (const channel of ['P1', 'P2']) {
      expect(lines.filter((line) => line.includes(`relation channel ${channel}: `)), result.after).toHaveLength(1);
    }
    expect(lines.every((line) => line.startsWith('chat-export: ')), result.after).toBe(true);
    expect(result.after).not.toMatch(/[\u2588\u2591]/);
    expect(ids(readFileSync(target, 'utf8'))).toEqual([...truthIds(server, 'relation', 'P1'), ...truthIds(server, 'relation', 'P2')]);
  });

  it('only channels in flight have a bar: one at a time with --concurrency 1', async () => {
    const server = await serve(60);
    const target = join(sandbox.dir, 'screen-one.jsonl');
    const result = await screenOf(
      dumpArgs(server, ['--provider', 'relation', '--channel', 'P1', '--channel', 'P2', '--channel', 'P3', '--page-size', '10', '--concurrency', '1', '-o', target]),
      cleanEnv(),
      (screen) => /relation channel P2 · /.test(screen),
    );
    expect(result.code, result.after).toBe(0);
    expect(result.during.length, 'P2 never showed a bar').toBeGreaterThan(0);
    for (const screen of result.during) {
      const bars = screen.split('\n').filter((line) => /^relation channel P\d · /.test(line));
      expect(bars, screen).toHaveLength(1);
      expect(bars[0]).toMatch(/^relation channel P2 · /);
    }
  });
});

describe.skipIf(!has('tmux'))('the progress display at 80 and 200 columns (tmux)', { concurrent: true }, () => {
  const BAR_LINE = /^(?:relation|dishawang) channel \S+ /;
  it.each([80, 200])('%i columns: lines never wrap or lose their counts; no total, no bar or ETA; the summary is whole', async (width) => {
    const server = await serve(40);
    const target = join(sandbox.dir, `screen-${width}/`);
    const result = await screenOf(
      dumpArgs(server, ['--provider', 'relation', '--channel', LONG_RELATION, '--page-size', '10', '--concurrency', '1', '-o', target]),
      cleanEnv(),
      (screen) => screen.split('\n').some((line) => BAR_LINE.test(line)),
      width,
    );
    expect(result.code, result.after).toBe(0);
    expect(result.during.length, 'no bar was ever seen').toBeGreaterThan(0);
    for (const screen of result.during) {
      for (const line of screen.split('\n').filter((l) => BAR_LINE.test(l))) {
        expect(line.length, line).toBeLessThanOrEqual(width - 3);
        expect(line, screen).toMatch(/ · \d+ messages? · \d+ pages?/);
        expect(line).not.toMatch(/[\u2588\u2591]|ETA|%/);
        if (width === 200) expect(line).toContain(LONG_RELATION);
      }
    }
    // once, after the bars are gone: the whole summary, output path and bytes included
    const summary = result.after.split('\n').filter((line) => line.startsWith('chat-export: '));
    expect(summary, result.after).toHaveLength(1);
    const match = SUMMARY.exec(summary[0]!);
    expect(match, summary[0]).not.toBeNull();
    expect(match![3]).toBe('200');
    expect(match![4]).toBe(join(target, `relation-${LONG_RELATION}.jsonl`));
    expect(result.after).not.toMatch(/[\u2588\u2591]/);
  });

  it.each([80, 200])('%i columns: a known total shows "of N" (and a bar where the whole label leaves room for one), fitted to the width', async (width) => {
    const server = await serve(60);
    const target = join(sandbox.dir, `screen-total-${width}.csv`);
    const result = await screenOf(
      dumpArgs(server, ['--provider', 'dishawang', '--channel', LONG_DISHAWANG, '--concurrency', '1', '-o', target]),
      cleanEnv(),
      (screen) => /of 200 messages/.test(screen),
      width,
    );
    expect(result.code, result.after).toBe(0);
    expect(result.during.length, 'no "of 200" was ever seen').toBeGreaterThan(0);
    for (const screen of result.during) {
      for (const line of screen.split('\n').filter((l) => BAR_LINE.test(l))) {
        expect(line.length, line).toBeLessThanOrEqual(width - 3);
        // a 51-column label: at 80 columns the bar gives way first (the label is still too long, and cut in the middle);
        // at 200 there is room for both
        if (width === 80) expect(line, screen).toMatch(/^dishawang channel \d*…\d*26 · \d+ of 200 messages · \d+ pages?/);
        else expect(line, screen).toMatch(/ \|[\u2588\u2591]{6,}\| \d+ of 200 messages · \d+ pages?/);
      }
    }
    const summary = result.after.split('\n').filter((line) => line.startsWith('chat-export: '));
    expect(summary, result.after).toHaveLength(1);
    expect(summary[0]).toMatch(SUMMARY);
    expect(summary[0]).toContain(`: 200 messages → ${target} (`);
  });
});

describe.skipIf(!has('tmux'))('Ctrl-C while bars are drawn (tmux)', () => {
  it('the notice starts its own line, no bar is left behind; exit 130', async () => {
    const server = await serve(80);
    const target = join(sandbox.dir, 'screen-int.jsonl');
    const result = await screenOf(
      dumpArgs(server, ['--provider', 'relation', '--channel', LONG_RELATION, '--channel', 'P1', '--page-size', '10', '-o', target]),
      cleanEnv(),
      (screen) => / · \d+ messages? · /.test(screen),
      80,
      'C-c',
    );
    expect(result.code, result.after).toBe(130);
    const lines = result.after.split('\n').filter((line) => line.trim() !== '');
    expect(lines, result.after).toContain('chat-export: SIGINT: stopping…');
    expect(lines.every((line) => line.startsWith('chat-export: ')), result.after).toBe(true);
    expect(result.after).not.toMatch(/ · \d+ messages? · /);
  });
});

describe('the figures count what really happened', () => {
  it('a page asked for ahead that the walk no longer needs is a request only if it was sent: the summary agrees with the server, run after run', async () => {
    const server = await startFixtureServer({
      channels: [
        { provider: 'relation', id: 'AHEAD1', count: 300 },
        { provider: 'tokenchat', id: 'C0AHEAD', count: 300 },
      ],
      latencyMs: 2,
    });
    servers.push(server);
    const box = createSandbox();
    boxes.push(box);
    mkdirSync(dirname(box.config), { recursive: true });
    writeFileSync(box.config, JSON.stringify({ profiles: {}, providers: { tokenchat: readmeExample('tokenchat') } }), { mode: 0o600 });
    // newest first, --limit 5 of pages of 20: the walk stops after page 1, while page 2 is already asked for
    for (let run = 0; run < 8; run++) {
      for (const [provider, channel] of [['relation', 'AHEAD1'], ['tokenchat', 'C0AHEAD']] as const) {
        server.resetLog();
        const result = await runCli(dumpArgs(server, ['--provider', provider, '--channel', channel, '--page-size', '20', '--limit', '5', '-o', join(box.dir, `${provider}.jsonl`)]), {
          env: box.env(),
        });
        expect(result.code, result.stderr).toBe(0);
        const summary = result.stderr.split('\n').map((line) => SUMMARY.exec(line)).find(Boolean);
        expect(summary, result.stderr).toBeTruthy();
        // before: "1 page, 2 requests" in about a third of the runs, while the server saw one
        expect(`${provider}: ${summary![7]} requests`).toBe(`${provider}: ${server.log.length} requests`);
      }
    }
  }, 120_000);
});
