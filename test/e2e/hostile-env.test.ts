/**
 * Hostile local environments through the real CLI (DESIGN.md sections 2 and
 * 5): paths that cannot be written, a disk that fills up during the run,
 * signals at several moments, a reader that closes stdout, stdout on a full
 * device. Real file-system conditions: a read-only bind mount and a 200 KiB
 * tmpfs where this machine lets the test mount them.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { startFixtureServer, type FixtureServer } from '../../fixtures/server.js';
import { BIN, createSandbox, runCli, runCliPiped, type RunResult, type Sandbox } from '../helpers/cli.js';

const BIG = 'big-chan';
const SMALL = 'small-chan';
const servers: FixtureServer[] = [];
const boxes: Sandbox[] = [];
const mounts: string[] = [];

afterAll(async () => {
  for (const dir of mounts.reverse()) {
    try {
      execFileSync('umount', [dir], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
  await Promise.all(servers.map((server) => server.close()));
  for (const box of boxes) box.cleanup();
});

async function serve(latencyMs = 0): Promise<FixtureServer> {
  const server = await startFixtureServer({
    channels: [
      // ~1 MB of JSONL: more than a pipe buffer and more than the small tmpfs
      { provider: 'relation', id: BIG, count: 4000, seed: 7 },
      { provider: 'relation', id: SMALL, count: 30, seed: 8 },
    ],
    latencyMs,
  });
  servers.push(server);
  return server;
}

function sandbox(): Sandbox {
  const box = createSandbox();
  boxes.push(box);
  return box;
}

const ENV = { CHAT_EXPORT_RUN_SIZE: '200' };

function args(server: FixtureServer, channel: string, extra: string[]): string[] {
  return ['dump', '--provider', 'relation', '--base-url', server.url, '--channel', channel, '--no-progress', '--rate', '1000', '--page-size', '100', ...extra];
}

function explain(result: Pick<RunResult, 'code' | 'stderr'>): string {
  return `exit ${result.code}\n--- stderr\n${result.stderr}`;
}

function stateDirOf(box: Sandbox): string {
  return join(box.dir, 'config', 'state');
}

function listOrEmpty(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** Mounts a filesystem for the test, or returns false where this machine does not allow it. */
function tryMount(argv: string[], dir: string): boolean {
  try {
    execFileSync('mount', argv, { stdio: 'ignore' });
    mounts.push(dir);
    return true;
  } catch {
    return false;
  }
}

function readOnlyDir(box: Sandbox, name: string): string | undefined {
  const dir = join(box.dir, name);
  mkdirSync(dir, { recursive: true });
  if (!tryMount(['--bind', dir, dir], dir)) return undefined;
  if (!tryMount(['-o', 'remount,bind,ro', dir], dir)) return undefined;
  return dir;
}

function smallTmpfs(box: Sandbox, name: string): string | undefined {
  const dir = join(box.dir, name);
  mkdirSync(dir, { recursive: true });
  return tryMount(['-t', 'tmpfs', '-o', 'size=200k', 'tmpfs', dir], dir) ? dir : undefined;
}

describe('paths are checked before the first request (exit 2, naming the path)', () => {
  it('-o existing-file/ → exit 2 at once: no internal error, no request, no retries', async () => {
    const server = await serve();
    const box = sandbox();
    const file = join(box.dir, 'notes.md');
    writeFileSync(file, 'mine\n');
    const before = server.log.length;
    const result = await runCli(args(server, SMALL, ['-o', `${file}/`]), { env: box.env() });
    expect(result.code, explain(result)).toBe(2);
    expect(result.stderr).toContain(file);
    expect(result.stderr).not.toMatch(/internal error|UND_ERR|EEXIST/);
    expect(server.log.length - before).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('mine\n');
  });

  it('-o notes.md/x.jsonl (the parent is a file) → exit 2 naming it', async () => {
    const server = await serve();
    const box = sandbox();
    const file = join(box.dir, 'notes.md');
    writeFileSync(file, 'mine\n');
    const before = server.log.length;
    const result = await runCli(args(server, SMALL, ['-o', join(file, 'x.jsonl')]), { env: box.env() });
    expect(result.code, explain(result)).toBe(2);
    expect(result.stderr).toContain(`${file} is a file`);
    expect(result.stderr).not.toMatch(/internal error/);
    expect(server.log.length - before).toBe(0);
  });

  it('an output directory on a read-only file system → exit 2 before any request', async (ctx) => {
    const box = sandbox();
    const ro = readOnlyDir(box, 'ro');
    if (!ro) return ctx.skip('cannot mount a read-only bind here');
    const server = await serve();
    const before = server.log.length;
    for (const output of [`${ro}/`, join(ro, 'out.jsonl'), `${join(ro, 'sub')}/`]) {
      const result = await runCli(args(server, SMALL, ['-o', output]), { env: box.env() });
      expect(result.code, explain(result)).toBe(2);
      expect(result.stderr).toContain(ro);
      expect(result.stderr).toMatch(/read-only file system/);
    }
    expect(server.log.length - before).toBe(0);
  });

  it('a state directory on a read-only file system, or where a file is → exit 2 naming it', async (ctx) => {
    const box = sandbox();
    const server = await serve();
    const before = server.log.length;
    const file = join(box.dir, 'plain-file');
    writeFileSync(file, '');
    const blocked = await runCli(args(server, SMALL, ['--state-dir', join(file, 'state'), '-o', join(box.dir, 'a.jsonl')]), { env: box.env() });
    expect(blocked.code, explain(blocked)).toBe(2);
    expect(blocked.stderr).toContain(file);
    expect(blocked.stderr).not.toMatch(/internal error/);
    const ro = readOnlyDir(box, 'ro-state');
    if (!ro) return ctx.skip('cannot mount a read-only bind here');
    const result = await runCli(args(server, SMALL, ['--state-dir', ro, '-o', join(box.dir, 'b.jsonl')]), { env: box.env() });
    expect(result.code, explain(result)).toBe(2);
    expect(result.stderr).toContain(ro);
    expect(server.log.length - before).toBe(0);
  });
  it('a directory the system refuses with ENOENT under an existing parent (/proc) → exit 2 at once, not a spin', async (ctx) => {
    if (!existsSync('/proc/self')) return ctx.skip('no /proc here');
    const server = await serve();
    const box = sandbox();
    const before = server.log.length;
    // Node's recursive mkdir retries such a level for ever
    for (const extra of [['--state-dir', '/proc/chat-export-test/state', '-o', join(box.dir, 'a.jsonl')], ['-o', '/proc/chat-export-test/out/']]) {
      const result = await runCli(args(server, SMALL, extra), { env: box.env(), timeoutMs: 10_000 });
      expect(result.timedOut, explain(result)).toBe(false);
      expect(result.code, explain(result)).toBe(2);
      expect(result.stderr).toContain('/proc/chat-export-test');
    }
    expect(server.log.length - before).toBe(0);
  });
});

describe('the media directory is checked like the output (exit 2, naming it)', () => {
  it('--media-dir where a file is, or under one → exit 2 before any request', async () => {
    const server = await serve();
    const box = sandbox();
    const file = join(box.dir, 'not-a-dir');
    writeFileSync(file, 'mine\n');
    const before = server.log.length;
    for (const mediaDir of [file, join(file, 'media')]) {
      const result = await runCli(args(server, SMALL, ['-o', join(box.dir, 'out.jsonl'), '--media', '--media-dir', mediaDir]), { env: box.env() });
      expect(result.code, explain(result)).toBe(2);
      expect(result.stderr).toContain('--media-dir');
      expect(result.stderr).toContain(file);
      expect(result.stderr).not.toMatch(/internal error/);
    }
    expect(server.log.length - before).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('mine\n');
  });

  it('--media-dir on a read-only file system → exit 2 before any request', async (ctx) => {
    const box = sandbox();
    const ro = readOnlyDir(box, 'ro-media');
    if (!ro) return ctx.skip('cannot mount a read-only bind here');
    const server = await serve();
    const before = server.log.length;
    for (const mediaDir of [ro, join(ro, 'new-sub')]) {
      const result = await runCli(args(server, SMALL, ['-o', join(box.dir, 'out.jsonl'), '--media', '--media-dir', mediaDir]), { env: box.env() });
      expect(result.code, explain(result)).toBe(2);
      expect(result.stderr).toMatch(new RegExp(`--media-dir ${mediaDir}.*read-only file system`));
    }
    expect(server.log.length - before).toBe(0);
  });
});

describe('a disk that fills up during the run → exit 6', () => {
  it('-o file on a full disk: one line naming the file and the channel, no temp file, the old file intact, the checkpoint kept', async (ctx) => {
    const box = sandbox();
    const disk = smallTmpfs(box, 'small-disk');
    if (!disk) return ctx.skip('cannot mount a tmpfs here');
    const server = await serve();
    const target = join(disk, 'out.jsonl');
    writeFileSync(target, '{"earlier":"export"}\n');
    const result = await runCli(args(server, BIG, ['-o', target]), { env: box.env(ENV) });
    expect(result.code, explain(result)).toBe(6);
    const lines = result.stderr.split('\n').filter((line) => line.startsWith('chat-export:'));
    const error = lines.find((line) => /disk full/.test(line));
    expect(error, result.stderr).toBeDefined();
    expect(error).toContain(target);
    expect(error).toContain(`relation channel ${BIG}`);
    expect(result.stderr).not.toMatch(/internal error|this is a bug/);
    expect(readdirSync(disk)).toEqual(['out.jsonl']);
    expect(readFileSync(target, 'utf8')).toBe('{"earlier":"export"}\n');
    expect(listOrEmpty(join(stateDirOf(box), 'checkpoints'))).toHaveLength(1);
    expect(listOrEmpty(join(stateDirOf(box), 'locks'))).toEqual([]);
  });

  it('-o dir/ on a full disk: exit 6 (not 4), naming the file and the channel; the small channel is written', async (ctx) => {
    const box = sandbox();
    const disk = smallTmpfs(box, 'small-disk-dir');
    if (!disk) return ctx.skip('cannot mount a tmpfs here');
    const server = await serve();
    const result = await runCli([...args(server, BIG, ['-o', `${disk}/`]), '--channel', SMALL], { env: box.env(ENV) });
    // one channel written, one failed on the disk: the disk is what the user must fix, so 6 outranks 5
    expect(result.code, explain(result)).toBe(6);
    expect(readdirSync(disk)).toContain(`relation-${SMALL}.jsonl`);
    expect(result.stderr).toMatch(new RegExp(`relation channel ${BIG}: cannot write ${disk}/relation-${BIG}\\.jsonl: disk full \\(ENOSPC\\)`));
    expect(readdirSync(disk).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    const alone = await runCli(args(server, BIG, ['-o', `${disk}/`]), { env: box.env(ENV) });
    expect(alone.code, explain(alone)).toBe(6);
    expect(readdirSync(disk).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it.for<[string, string[], string]>([
    ['--partition', ['--partition', '1500'], 'out.jsonl'],
    ['--format html', ['--format', 'html'], 'out.html'],
  ])('%s into a full disk: exit 6 naming the file and the channel, no temp file, no part renamed, the checkpoint kept', async ([, extra, name], ctx) => {
    const box = sandbox();
    const disk = smallTmpfs(box, `small-disk-${name}`);
    if (!disk) return ctx.skip('cannot mount a tmpfs here');
    const server = await serve();
    const target = join(disk, name);
    const result = await runCli(args(server, BIG, ['-o', target, ...extra]), { env: box.env(ENV) });
    expect(result.code, explain(result)).toBe(6);
    expect(result.stderr).toMatch(new RegExp(`relation channel ${BIG}: cannot write ${disk}/.*: disk full \\(ENOSPC\\)`));
    expect(result.stderr).not.toMatch(/internal error|this is a bug/);
    // no line says the channel was written before the write failed
    expect(result.stderr).not.toMatch(/messages →/);
    expect(readdirSync(disk)).toEqual([]);
    expect(listOrEmpty(join(stateDirOf(box), 'checkpoints'))).toHaveLength(1);
    expect(listOrEmpty(join(stateDirOf(box), 'locks'))).toEqual([]);
  });

  it('--incremental appending to a file on a full disk: exit 6, the file cut back to what it was, the state not advanced', async (ctx) => {
    const box = sandbox();
    const disk = smallTmpfs(box, 'small-disk-inc');
    if (!disk) return ctx.skip('cannot mount a tmpfs here');
    const server = await serve();
    const target = join(disk, 'big.jsonl');
    // the 100 newest (messages() is newest first)
    const cut = server.messages('relation', BIG)[99]!.time;
    const first = await runCli(args(server, BIG, ['-o', target, '--incremental', '--since', String(cut)]), { env: box.env(ENV) });
    expect(first.code, explain(first)).toBe(0);
    const before = readFileSync(target, 'utf8');
    server.insert('relation', BIG, 1500);
    const second = await runCli(args(server, BIG, ['-o', target, '--incremental']), { env: box.env(ENV) });
    expect(second.code, explain(second)).toBe(6);
    expect(second.stderr).toMatch(new RegExp(`relation channel ${BIG}: cannot write ${target}: disk full \\(ENOSPC\\)`));
    expect(readFileSync(target, 'utf8')).toBe(before);
    expect(readdirSync(disk)).toEqual(['big.jsonl']);
    // the state still describes the file as the first run left it
    const states = listOrEmpty(stateDirOf(box))
      .filter((file) => file.endsWith('.json'))
      .map((file) => JSON.parse(readFileSync(join(stateDirOf(box), file), 'utf8')) as { output?: string; size?: number });
    expect(states.filter((state) => state.output === target).map((state) => state.size)).toEqual([Buffer.byteLength(before)]);
  });

  it('--media into a full media directory: exit 6 naming it and the channel, no temp file there', async (ctx) => {
    const box = sandbox();
    const disk = smallTmpfs(box, 'small-disk-media');
    if (!disk) return ctx.skip('cannot mount a tmpfs here');
    const server = await startFixtureServer({
      channels: [{ provider: 'discuz', id: '31', count: 20, mediaBase: 'self', attachmentsAt: { 5: { url: '{self}/media/huge.png', name: 'huge.png', type: 'image/png' } } }],
    });
    servers.push(server);
    const out = join(box.dir, 'm1.jsonl');
    const result = await runCli(
      ['dump', '--provider', 'discuz', '--base-url', server.url, '--channel', '31', '--no-progress', '--rate', '1000', '-o', out, '--media', '--media-dir', disk, '--media-max-size', '10m'],
      { env: box.env(ENV) },
    );
    expect(result.code, explain(result)).toBe(6);
    expect(result.stderr).toMatch(new RegExp(`discuz channel 31: cannot write in the media directory ${disk}: disk full \\(ENOSPC\\)`));
    expect(readdirSync(disk).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    expect(existsSync(out)).toBe(false);
  });

  it('stdout on /dev/full → exit 6 naming stdout, not an internal error', async () => {
    const server = await serve();
    const box = sandbox();
    const result = await new Promise<RunResult>((resolve) => {
      const fd = openSync('/dev/full', 'w');
      const child = spawn(process.execPath, [BIN, ...args(server, SMALL, [])], { env: box.env(), stdio: ['ignore', fd, 'pipe'] });
      closeSync(fd);
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('close', (code, signal) => resolve({ code, signal, stdout: '', stderr, timedOut: false, elapsedMs: 0 }));
    });
    expect(result.code, explain(result)).toBe(6);
    expect(result.stderr).toMatch(/stdout: disk full/);
    expect(result.stderr).not.toMatch(/internal error/);
  });
});

/** Starts the CLI and sends `signal` when `when()` says so; stdout is a pipe nobody reads when `stall`. */
function runSignalled(
  server: FixtureServer,
  box: Sandbox,
  argv: string[],
  signal: NodeJS.Signals,
  when: () => boolean,
  stall = false,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...argv], { env: box.env(ENV), stdio: ['ignore', stall ? 'pipe' : 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    let sent = false;
    const poll = setInterval(() => {
      if (!sent && when()) {
        sent = true;
        child.kill(signal);
      }
    }, 5);
    const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(poll);
      clearTimeout(guard);
      resolve({ code, stderr });
    });
  });
}

describe('signals: INT, TERM and HUP alike', () => {
  it.each<[NodeJS.Signals, number]>([
    ['SIGHUP', 129],
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ])('%s mid-walk → exit %i, checkpoint saved, lock and temp files removed, no leading blank line', async (signal, code) => {
    const server = await serve(10);
    const box = sandbox();
    mkdirSync(join(box.dir, 'out'));
    const target = join(box.dir, 'out', 'big.jsonl');
    const base = server.log.length;
    const result = await runSignalled(server, box, args(server, BIG, ['-o', target]), signal, () => server.log.length - base >= 8);
    expect(result.code, explain(result)).toBe(code);
    expect(result.stderr.startsWith('chat-export: '), JSON.stringify(result.stderr)).toBe(true);
    expect(result.stderr).toContain(signal);
    expect(result.stderr).toMatch(/--resume/);
    expect(readdirSync(join(box.dir, 'out'))).toEqual([]);
    expect(listOrEmpty(join(stateDirOf(box), 'locks'))).toEqual([]);
    expect(listOrEmpty(join(stateDirOf(box), 'checkpoints'))).toHaveLength(1);
  });

  it.each<[NodeJS.Signals, number]>([
    ['SIGHUP', 129],
    ['SIGTERM', 143],
  ])('%s during the final write to a reader that stalls → exit %i promptly, lock removed', async (signal, code) => {
    const server = await serve();
    const box = sandbox();
    const base = server.log.length;
    // 4000 messages at 100 a page: 41 requests, then the CLI blocks writing ~1 MB into a pipe nobody reads
    let walked = 0;
    const result = await runSignalled(server, box, args(server, BIG, []), signal, () => {
      if (server.log.length - base >= 41 && server.log.every((entry) => entry.end !== undefined)) walked++;
      return walked > 60;
    }, true);
    expect(result.code, explain(result)).toBe(code);
    expect(listOrEmpty(join(stateDirOf(box), 'locks'))).toEqual([]);
  });

  it('SIGTERM while writing into a FIFO whose reader never reads → exit 143, not a hang', async () => {
    const server = await serve();
    const box = sandbox();
    const fifo = join(box.dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // A reader that opens the FIFO and never reads: the writer fills the pipe and blocks.
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const base = server.log.length;
      let ticks = 0;
      const result = await runSignalled(server, box, args(server, BIG, ['-o', fifo]), 'SIGTERM', () => {
        if (server.log.length - base >= 41 && server.log.every((entry) => entry.end !== undefined)) ticks++;
        return ticks > 60;
      });
      expect(result.code, explain(result)).toBe(143);
      expect(listOrEmpty(join(stateDirOf(box), 'locks'))).toEqual([]);
    } finally {
      closeSync(reader);
    }
  });
});

describe('a reader that closes stdout (| head -1)', () => {
  it('stops quietly with 141, nothing on stderr', async () => {
    const server = await serve();
    const box = sandbox();
    const { cli, consumer } = await runCliPiped(args(server, BIG, []), 'head -1', { env: box.env(ENV) });
    expect(consumer.stdout.split('\n').filter(Boolean)).toHaveLength(1);
    expect(cli.code, explain(cli)).toBe(141);
    expect(cli.stderr).not.toMatch(/error|internal/i);
    expect(listOrEmpty(join(stateDirOf(box), 'locks'))).toEqual([]);
  });

  it('--incremental to stdout advances no state, so the next run sends everything again', async () => {
    const server = await serve();
    const box = sandbox();
    const { cli } = await runCliPiped(args(server, BIG, ['--incremental']), 'head -1', { env: box.env(ENV) });
    expect(cli.code, explain(cli)).toBe(141);
    const states = listOrEmpty(stateDirOf(box)).filter((name) => name.endsWith('.json'));
    expect(states).toEqual([]);
    const again = await runCli(args(server, BIG, ['--incremental']), { env: box.env(ENV) });
    expect(again.code, explain(again)).toBe(0);
    expect(again.stdout.split('\n').filter(Boolean)).toHaveLength(4000);
  });
});

describe('a user without write permission (not root: chmod binds)', () => {
  it('-o dir/ the user cannot write → exit 2 before any request, not a summary then EACCES', async (ctx) => {
    if (process.getuid?.() !== 0) return ctx.skip('needs root to run the CLI as another user');
    const server = await serve();
    const box = sandbox();
    const nobody = 65534;
    chmodSync(box.dir, 0o755);
    const config = join(box.dir, 'config');
    mkdirSync(config, { recursive: true });
    chownSync(config, nobody, nobody);
    const locked = join(box.dir, 'locked');
    mkdirSync(locked, { mode: 0o555 });
    chmodSync(locked, 0o555);
    const before = server.log.length;
    const result = await new Promise<RunResult>((resolve) => {
      const child = spawn(process.execPath, [BIN, ...args(server, SMALL, ['-o', `${locked}/`])], {
        env: box.env({ HOME: config, TMPDIR: config }),
        uid: nobody,
        gid: nobody,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, timedOut: false, elapsedMs: 0 }));
    });
    expect(result.code, explain(result)).toBe(2);
    expect(result.stderr).toContain(locked);
    expect(result.stderr).toMatch(/permission denied/);
    expect(result.stderr).not.toMatch(/messages, \d+ pages/);
    expect(server.log.length - before).toBe(0);
  });
});
