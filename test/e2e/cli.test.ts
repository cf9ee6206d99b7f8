import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
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
