/**
 * Checkpoints and --resume through the real CLI (DESIGN.md sections 2 and 5):
 * an export killed (SIGKILL), interrupted (SIGINT) or failed (exit 4) half
 * way continues from its checkpoint with --resume, asks only for what it had
 * not read, and writes exactly what an uninterrupted run writes.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { startFixtureServer, type ChannelSpec, type FixtureServer, type Provider } from '../../fixtures/server.js';
import { BIN, createSandbox, runCli, type RunResult, type Sandbox } from '../helpers/cli.js';
import { jsonlIds, truthIds } from '../helpers/ground-truth.js';

const servers: FixtureServer[] = [];
const boxes: Sandbox[] = [];

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
  for (const box of boxes) box.cleanup();
});

/** 600 messages, 20 a page: 30 requests for a whole walk. */
const SPECS: Record<Provider, ChannelSpec> = {
  // a tie cluster longer than a page, so a checkpoint can fall inside one millisecond
  relation: { provider: 'relation', id: 'res-rel', count: 600, ties: [{ at: 205, size: 30 }] },
  discuz: { provider: 'discuz', id: '71', count: 600, ties: [{ at: 405, size: 6 }] },
  dishawang: { provider: 'dishawang', id: '81', count: 600, perPage: 20 },
};
const PAGE = ['--page-size', '20'];
/** a sorted run spilled, and a checkpoint saved, every 100 messages */
const ENV = { CHAT_EXPORT_RUN_SIZE: '100' };

async function serve(spec: ChannelSpec, latencyMs = 15): Promise<FixtureServer> {
  const server = await startFixtureServer({ channels: [spec], latencyMs });
  servers.push(server);
  return server;
}

function sandbox(): Sandbox {
  const box = createSandbox();
  boxes.push(box);
  mkdirSync(join(box.dir, 'out'), { recursive: true });
  return box;
}

function cliArgs(server: FixtureServer, args: string[]): string[] {
  return ['dump', '--base-url', server.url, '--no-progress', '--rate', '1000', ...args];
}

function dump(server: FixtureServer, box: Sandbox, args: string[], env: Record<string, string> = ENV): Promise<RunResult> {
  return runCli(cliArgs(server, args), { env: box.env(env), timeoutMs: 30_000 });
}

function explain(result: { code: number | null; stderr: string }): string {
  return `exit ${result.code}\n--- stderr\n${result.stderr}`;
}

/** An uninterrupted export in a sandbox of its own: its bytes and how many requests it took. */
async function uninterrupted(server: FixtureServer, args: string[], file: string): Promise<{ text: string; requests: number }> {
  const box = sandbox();
  const target = join(box.dir, 'out', file);
  const before = server.log.length;
  const result = await dump(server, box, [...args, '-o', target]);
  expect(result.code, explain(result)).toBe(0);
  return { text: readFileSync(target, 'utf8'), requests: server.log.length - before };
}

function checkpointsOf(box: Sandbox): string[] {
  const dir = join(box.dir, 'config', 'state', 'checkpoints');
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** Starts the CLI and sends `signal` once the server has seen `requests` more requests. */
function runSignalled(
  server: FixtureServer,
  box: Sandbox,
  args: string[],
  signal: NodeJS.Signals,
  requests: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const base = server.log.length;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...cliArgs(server, args)], { env: box.env(ENV), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    let sent = false;
    const poll = setInterval(() => {
      if (!sent && server.log.length - base >= requests) {
        sent = true;
        child.kill(signal);
      }
    }, 5);
    const guard = setTimeout(() => child.kill('SIGKILL'), 25_000);
    child.on('error', reject);
    child.on('close', (code, got) => {
      clearInterval(poll);
      clearTimeout(guard);
      resolve({ code, signal: got, stderr });
    });
  });
}

describe.concurrent('--resume after SIGKILL mid-walk', () => {
  it.each<Provider>(['relation', 'discuz', 'dishawang'])('%s: the resumed output is byte-identical to an uninterrupted run, with fewer requests', async (provider) => {
    const spec = SPECS[provider];
    const server = await serve(spec);
    const args = ['--provider', provider, '--channel', spec.id, ...PAGE];
    const reference = await uninterrupted(server, args, 'full.jsonl');
    expect(jsonlIds(reference.text)).toEqual(truthIds(server, provider, spec.id));
    expect(reference.requests).toBeGreaterThanOrEqual(30);

    const box = sandbox();
    const target = join(box.dir, 'out', 'backup.jsonl');
    const killed = await runSignalled(server, box, [...args, '-o', target], 'SIGKILL', 14);
    expect(killed.signal, explain(killed)).toBe('SIGKILL');
    expect(existsSync(target)).toBe(false); // a killed export writes nothing
    expect(checkpointsOf(box)).toHaveLength(1);

    const before = server.log.length;
    const resumed = await dump(server, box, [...args, '-o', target, '--resume']);
    expect(resumed.code, explain(resumed)).toBe(0);
    const requests = server.log.length - before;
    expect(resumed.stderr).toMatch(/resuming after [1-9]\d* messages/);
    expect(readFileSync(target, 'utf8')).toBe(reference.text);
    // at least one checkpoint (100 messages = 5 pages) was saved before the 14th request: those pages are not asked again
    expect(requests).toBeLessThanOrEqual(reference.requests - 5);
    expect(checkpointsOf(box)).toEqual([]);
    expect(readdirSync(join(box.dir, 'out'))).toEqual(['backup.jsonl']);
  });

  it('discuz: messages posted between the kill and --resume push pages along: nothing is lost or doubled', async () => {
    const spec = SPECS.discuz;
    const server = await serve(spec);
    const args = ['--provider', 'discuz', '--channel', spec.id, ...PAGE];
    const reference = await uninterrupted(server, args, 'full.jsonl');

    const box = sandbox();
    const target = join(box.dir, 'out', 'backup.jsonl');
    const killed = await runSignalled(server, box, [...args, '-o', target], 'SIGKILL', 14);
    expect(killed.signal, explain(killed)).toBe('SIGKILL');
    server.insert('discuz', spec.id, 45); // more than two pages: page numbers shift past the checkpoint's

    const resumed = await dump(server, box, [...args, '-o', target, '--resume']);
    expect(resumed.code, explain(resumed)).toBe(0);
    expect(resumed.stderr).toMatch(/resuming after/);
    // the walk continued where it was: the history as it was then, each message once (the new ones come with the next run)
    expect(readFileSync(target, 'utf8')).toBe(reference.text);
  });

  it('a checkpoint of another window is not used: --resume with different flags starts over', async () => {
    const spec = SPECS.relation;
    const server = await serve(spec);
    const args = ['--provider', 'relation', '--channel', spec.id, ...PAGE];
    const reference = await uninterrupted(server, args, 'full.jsonl');

    const box = sandbox();
    const target = join(box.dir, 'out', 'backup.jsonl');
    const since = new Date(server.messages('relation', spec.id)[300]!.time).toISOString();
    const killed = await runSignalled(server, box, [...args, '--since', since, '-o', target], 'SIGKILL', 10);
    expect(killed.signal, explain(killed)).toBe('SIGKILL');
    expect(checkpointsOf(box)).toHaveLength(1);

    const resumed = await dump(server, box, [...args, '-o', target, '--resume']);
    expect(resumed.code, explain(resumed)).toBe(0);
    expect(resumed.stderr).not.toMatch(/resuming after/);
    expect(readFileSync(target, 'utf8')).toBe(reference.text);
  });
});

describe('--resume against a server that silently caps its pages', () => {
  it('discuz --page-size 100 served 50 a page, killed at random moments and resumed each time: exact, exit 0, nothing called missing', async () => {
    // the fixture's Discuz! Q caps page[limit] at 50 without saying so (as the real one does)
    // 3,000 messages: 60 pages of 50, more than the three killed runs can walk between them
    const spec: ChannelSpec = { provider: 'discuz', id: '72', count: 3000 };
    const server = await serve(spec, 5);
    const args = ['--provider', 'discuz', '--channel', spec.id, '--page-size', '100'];
    const reference = await uninterrupted(server, args, 'full.jsonl');
    expect(jsonlIds(reference.text)).toEqual(truthIds(server, 'discuz', spec.id));

    const box = sandbox();
    const target = join(box.dir, 'out', 'backup.jsonl');
    // each kill well past a checkpoint (one every 100 messages = 2 pages of 50, saved a little after the pages
    // reach the client, later on a loaded machine); each later run resumes the last
    for (let k = 0; k < 3; k++) {
      const killed = await runSignalled(server, box, [...args, '-o', target, ...(k > 0 ? ['--resume'] : [])], 'SIGKILL', 8 + Math.floor(Math.random() * 6));
      expect(killed.signal, explain(killed)).toBe('SIGKILL');
    }
    expect(checkpointsOf(box)).toHaveLength(1);
    // before: the checkpoint's page numbers (counted in fifties) were read back as hundreds: "resuming after
    // N messages", a request or two, exit 0 with most of the rest missing; or every page "came back with 50 of 100", exit 5
    const resumed = await dump(server, box, [...args, '-o', target, '--resume']);
    expect(resumed.code, explain(resumed)).toBe(0);
    expect(resumed.stderr).toMatch(/resuming after [1-9]\d* messages/);
    expect(resumed.stderr).not.toMatch(/missing|came back with/);
    expect(readFileSync(target, 'utf8')).toBe(reference.text);
  }, 60_000);

  it('the server serves larger pages than when the checkpoint was made: the walk reads again from page 1, says so, exact', async () => {
    const spec: ChannelSpec = { provider: 'discuz', id: '73', count: 1500 };
    const server = await serve(spec, 5);
    const args = ['--provider', 'discuz', '--channel', spec.id, '--page-size', '100'];
    const reference = await uninterrupted(server, args, 'full.jsonl');
    const box = sandbox();
    const target = join(box.dir, 'out', 'backup.jsonl');
    // well past a checkpoint (every 2 pages), even on a loaded machine
    const killed = await runSignalled(server, box, [...args, '-o', target], 'SIGKILL', 10);
    expect(killed.signal, explain(killed)).toBe('SIGKILL');
    expect(checkpointsOf(box)).toHaveLength(1);
    // page N counted in fifties is another part of the list in hundreds
    server.setPageCap('discuz', spec.id, 100);
    const resumed = await dump(server, box, [...args, '-o', target, '--resume']);
    expect(resumed.code, explain(resumed)).toBe(0);
    expect(resumed.stderr).toMatch(/now serves 100 messages a page, not the 50 .* reading again from page 1/);
    expect(readFileSync(target, 'utf8')).toBe(reference.text);
  }, 60_000);
});

describe.concurrent('--resume after a failure or an interrupt', () => {
  it.each<Provider>(['relation', 'discuz'])('%s: a persistent 500 from the 12th request exits 4 saying how to resume; --resume completes identically', async (provider) => {
    const spec = SPECS[provider];
    const server = await serve(spec, 0);
    const args = ['--provider', provider, '--channel', spec.id, ...PAGE];
    const reference = await uninterrupted(server, args, 'full.jsonl');

    server.resetLog();
    server.addFault({ provider, nth: 12, times: 1000, kind: 'status', status: 500 });
    const box = sandbox();
    const target = join(box.dir, 'out', 'backup.jsonl');
    const failed = await dump(server, box, [...args, '-o', target, '--retries', '1']);
    expect(failed.code, explain(failed)).toBe(4);
    expect(failed.stderr).toMatch(/HTTP 500/);
    expect(failed.stderr).toMatch(/--resume/);
    expect(existsSync(target)).toBe(false);
    expect(checkpointsOf(box)).toHaveLength(1);

    server.clearFaults();
    server.resetLog();
    const resumed = await dump(server, box, [...args, '-o', target, '--resume']);
    expect(resumed.code, explain(resumed)).toBe(0);
    expect(server.log.length).toBeLessThanOrEqual(reference.requests - 5);
    expect(readFileSync(target, 'utf8')).toBe(reference.text);
    expect(checkpointsOf(box)).toEqual([]);
  });

  it('SIGINT: exits 130, says how to resume, and --resume completes identically (dishawang, CSV)', async () => {
    const spec = SPECS.dishawang;
    const server = await serve(spec);
    const args = ['--provider', 'dishawang', '--channel', spec.id];
    const reference = await uninterrupted(server, args, 'full.csv');

    const box = sandbox();
    const target = join(box.dir, 'out', 'backup.csv');
    const interrupted = await runSignalled(server, box, [...args, '-o', target], 'SIGINT', 14);
    expect(interrupted.code, explain(interrupted)).toBe(130);
    expect(interrupted.stderr).toMatch(/--resume/);
    expect(interrupted.stderr).not.toMatch(/internal error/);
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(join(box.dir, 'out'))).toEqual([]); // no temp file left behind either
    expect(checkpointsOf(box)).toHaveLength(1);

    const before = server.log.length;
    const resumed = await dump(server, box, [...args, '-o', target, '--resume']);
    expect(resumed.code, explain(resumed)).toBe(0);
    expect(server.log.length - before).toBeLessThanOrEqual(reference.requests - 5);
    expect(readFileSync(target, 'utf8')).toBe(reference.text);
    expect(checkpointsOf(box)).toEqual([]);
  });

  it('--resume with no checkpoint is simply a full export', async () => {
    const spec = SPECS.discuz;
    const server = await serve(spec, 0);
    const args = ['--provider', 'discuz', '--channel', spec.id, ...PAGE];
    const reference = await uninterrupted(server, args, 'full.jsonl');
    const box = sandbox();
    const target = join(box.dir, 'out', 'backup.jsonl');
    const before = server.log.length;
    const result = await dump(server, box, [...args, '-o', target, '--resume']);
    expect(result.code, explain(result)).toBe(0);
    expect(server.log.length - before).toBe(reference.requests);
    expect(readFileSync(target, 'utf8')).toBe(reference.text);
    expect(checkpointsOf(box)).toEqual([]);
  });
});
