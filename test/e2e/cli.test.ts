import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startFixtureServer } from '../../fixtures/server.js';
import { isProcessAlive as isAlive } from '../../src/pid.js';
import { stateFileName } from '../../src/state.js';
import { createSandbox, runCli, type Sandbox } from '../helpers/cli.js';

const sandboxes: Sandbox[] = [];
afterAll(() => {
  for (const made of sandboxes) made.cleanup();
});
function sandbox(): Sandbox {
  const made = createSandbox();
  sandboxes.push(made);
  return made;
}

describe.concurrent('the command line', () => {
  it('--config works before the command and after it, and beats CHAT_EXPORT_CONFIG', async () => {
    const box = sandbox();
    const before = join(box.dir, 'before.json');
    const after = join(box.dir, 'after.json');
    expect((await runCli(['--config', before, 'config', 'path'], { env: box.env() })).stdout).toBe(`${before}\n`);
    expect((await runCli(['config', 'path', '--config', after], { env: box.env() })).stdout).toBe(`${after}\n`);
    expect((await runCli(['config', 'path'], { env: box.env() })).stdout).toBe(`${box.config}\n`);

    const added = await runCli(['--config', before, 'profile', 'add', 'work', '--provider', 'relation', '--token-env', 'WORK_TOKEN'], { env: box.env() });
    expect(added.code, added.stderr).toBe(0);
    expect(JSON.parse(readFileSync(before, 'utf8'))).toEqual({ profiles: { work: { provider: 'relation', tokenEnv: 'WORK_TOKEN' } } });
    expect(statSync(before).mode & 0o777).toBe(0o600);
    const listed = await runCli(['profile', 'list', '--config', before], { env: box.env() });
    expect(listed.stdout).toMatch(/^work\trelation\t/);
    const dry = await runCli(['--config', before, 'dump', '--provider', 'work', '--channel', 'C1', '--dry-run'], {
      env: box.env({ WORK_TOKEN: 'work-token-value-1234' }),
    });
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ profile: 'work', provider: 'relation', token: '••••1234' });
    expect(dry.stdout + dry.stderr).not.toContain('work-token-value-1234');
  });

  it('profile set takes the key as a config key, a flag name, or a flag with its value (--page-size 150, --rate=3)', async () => {
    const box = sandbox();
    const run = (...args: string[]) => runCli(['profile', ...args], { env: box.env() });
    expect((await run('add', 'work', '--provider', 'relation')).code).toBe(0);
    for (const args of [['work', '--page-size', '150'], ['work', '--rate=3'], ['work', 'concurrency', '2'], ['work', 'base-url', 'https://api.example.com']]) {
      const result = await run('set', ...args);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
    }
    const shown = JSON.parse(readFileSync(box.config, "utf8")) as { profiles: Record<string, Record<string, unknown>> };
    expect(shown.profiles.work).toEqual({ provider: 'relation', pageSize: 150, rate: 3, concurrency: 2, baseUrl: 'https://api.example.com' });
    const missing = await run('set', 'work', '--page-size');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/give one value/);
    const unknown = await run('set', 'work', '--pagesize', '5');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown profile key "--pagesize"; did you mean pageSize\?/);
  });

  it('usage mistakes exit 2 with a message; --help and --version exit 0 on stdout', async () => {
    const box = sandbox();
    const unknown = await runCli(['dump', '--provider', 'relation', '--channel', 'x', '--bogus'], { env: box.env() });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--bogus'/);
    const missing = await runCli(['dump', '--channel', 'x'], { env: box.env() });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--provider/);
    const badNumber = await runCli(['dump', '--provider', 'relation', '--channel', 'x', '--rate', 'fast'], { env: box.env() });
    expect(badNumber.code).toBe(2);
    const help = await runCli(['dump', '--help'], { env: box.env() });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--incremental/);
    const version = await runCli(['--version'], { env: box.env() });
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});

describe('one export of a profile and channel at a time', () => {
  it('a second --incremental run while the first is going exits 2 naming it; a plain one runs beside it; a killed run\'s lock is taken over', async () => {
    // The first run's second request hangs 15 s: it is surely still running while the others start, however slow the machine.
    const server = await startFixtureServer({ channels: [{ provider: 'relation', id: 'L1', count: 200 }], faults: [{ kind: 'delay', ms: 15_000, nth: 2 }] });
    try {
      const box = sandbox();
      const args = ['dump', '--provider', 'relation', '--channel', 'L1', '--base-url', server.url, '--page-size', '20', '--rate', '1000', '-q'];
      const first = runCli([...args, '-o', join(box.dir, 'first.jsonl')], { env: box.env() });
      while (server.log.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      const second = await runCli([...args, '--incremental', '-o', join(box.dir, 'second.jsonl')], { env: box.env() });
      expect(second.code).toBe(2);
      expect(second.stderr).toMatch(/another chat-export \(pid \d+\) is exporting it with the same profile/);
      const beside = await runCli([...args, '-o', join(box.dir, 'beside.jsonl')], { env: box.env() });
      expect(beside.code, beside.stderr).toBe(0);
      const done = await first;
      expect(done.code, done.stderr).toBe(0);
      expect(readFileSync(join(box.dir, 'first.jsonl'), 'utf8').trim().split('\n')).toHaveLength(200);
      expect(readFileSync(join(box.dir, 'beside.jsonl'), 'utf8')).toBe(readFileSync(join(box.dir, 'first.jsonl'), 'utf8'));
      const checkpoints = join(box.dir, 'config', 'state', 'checkpoints');
      expect(existsSync(checkpoints) ? readdirSync(checkpoints) : []).toEqual([]);

      // a killed run's lock (its pid no longer exists) does not block the next one
      const locks = join(box.dir, 'config', 'state', 'locks');
      expect(readdirSync(locks)).toEqual([]);
      let dead = 4_000_000;
      while (isAlive(dead)) dead++;
      writeFileSync(join(locks, stateFileName('relation', 'channel', 'L1', server.url).replace(/\.json$/, '.lock')), String(dead));
      const after = await runCli([...args, '--incremental', '-o', join(box.dir, 'third.jsonl')], { env: box.env() });
      expect(after.code, after.stderr).toBe(0);
      expect(readdirSync(locks)).toEqual([]);
    } finally {
      await server.close();
    }
  });
});
