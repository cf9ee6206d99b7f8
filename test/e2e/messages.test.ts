/**
 * What a new user reads on stderr: one line per cause, `chat-export: ` first,
 * the hint after " — "; names the user typed, not names they never saw.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TOKEN, runCli } from '../helpers/cli.js';
import { useSandbox, useServer } from '../helpers/fixtures.js';

const CHANNEL = 'msg00000000000000000000000000001';

describe.concurrent('messages a new user reads', () => {
  const server = useServer({ auth: { token: TOKEN }, channels: [{ provider: 'dishawang', id: '26', count: 30 }] });
  const sandbox = useSandbox();

  it("commander's own errors are one line in our shape, with its suggestion on the same line", async () => {
    const unknown = await runCli(['dump', '--provider', 'relation', '--channel', 'x', '--tokn', 'a'], { env: sandbox().env() });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe("chat-export: unknown option '--tokn'; did you mean --token? — see --help for usage\n");
    const command = await runCli(['dmp'], { env: sandbox().env() });
    expect(command.code).toBe(2);
    expect(command.stderr).toBe("chat-export: unknown command 'dmp'; did you mean dump? — see --help for usage\n");
    const choice = await runCli(['dump', '--provider', 'relation', '--channel', 'x', '--format', 'xml'], { env: sandbox().env() });
    expect(choice.code).toBe(2);
    expect(choice.stderr).toMatch(/^chat-export: option '--format <format>' argument 'xml' is invalid\. Allowed choices are jsonl, csv, md, html, sqlite\.? — see --help for usage\n$/);
  });

  it('our own errors put the hint on the same line', async () => {
    const result = await runCli(['dump', '--provider', 'discuz', '--channel', '12'], { env: sandbox().env() });
    expect(result.code).toBe(2);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^chat-export: discuz has no default API address.* — give --base-url/);
  });

  it('a mistyped provider gets "did you mean"', async () => {
    const result = await runCli(['dump', '--provider', 'relaton', '--channel', CHANNEL], { env: sandbox().env() });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^chat-export: unknown provider or profile "relaton"; did you mean relation\? — built-in providers/);
  });

  it("a missing token names the profile's own variable", async () => {
    const box = sandbox();
    const config = join(box.dir, 'token-env.json');
    writeFileSync(config, JSON.stringify({ profiles: { work: { provider: 'relation', tokenEnv: 'RELATION_TOKEN' } } }), { mode: 0o600 });
    const result = await runCli(['--config', config, 'dump', '--provider', 'work', '--channel', CHANNEL], {
      env: box.env({ CHAT_EXPORT_TOKEN: undefined }),
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/needs a token and none was given \(RELATION_TOKEN is not set\) — set RELATION_TOKEN/);
    expect(result.stderr).not.toContain('CHAT_EXPORT_TOKEN');
  });

  it('dump --token - reads the token from stdin, as profile add does', async () => {
    const args = ['dump', '--provider', 'dishawang', '--channel', '26', '--base-url', server().url, '--token', '-', '-q'];
    const result = await runCli(args, { env: sandbox().env({ CHAT_EXPORT_TOKEN: undefined }), stdin: `${TOKEN}\n` });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(30);
    const empty = await runCli(args, { env: sandbox().env({ CHAT_EXPORT_TOKEN: undefined }), stdin: '' });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/--token -: nothing on stdin/);
  });

  it('an invalid profile read from the config is named by its key, not by a flag', async () => {
    const box = sandbox();
    const config = join(box.dir, 'bad-zone.json');
    writeFileSync(config, JSON.stringify({ profiles: { z2: { provider: 'dishawang', timezone: 'Mars/Phobos' } } }), { mode: 0o600 });
    const result = await runCli(['--config', config, 'dump', '--provider', 'z2', '--channel', '26'], { env: box.env() });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^chat-export: invalid config .*: profiles\.z2\.timezone: unknown timezone "Mars\/Phobos"/);
    expect(result.stderr).not.toContain('--timezone');
    const provider = join(box.dir, 'bad-provider.json');
    writeFileSync(provider, JSON.stringify({ profiles: { p: { provider: 'nope' } } }), { mode: 0o600 });
    const bad = await runCli(['--config', provider, 'profile', 'list'], { env: box.env() });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/profiles\.p\.provider: unknown provider "nope"/);
  });

  it('--since takes epoch seconds (10 digits) as well as ms (13), and 0', async () => {
    const dry = async (since: string) => {
      const result = await runCli(['dump', '--provider', 'relation', '--channel', CHANNEL, '--since', since, '--dry-run'], { env: sandbox().env() });
      expect(result.code, result.stderr).toBe(0);
      return (JSON.parse(result.stdout) as { since: string }).since;
    };
    expect(await dry('1704070800')).toBe('2024-01-01T01:00:00.000Z');
    expect(await dry('1704070800000')).toBe('2024-01-01T01:00:00.000Z');
    expect(await dry('0')).toBe('1970-01-01T00:00:00.000Z');
  });

  it("a relative output in a profile is relative to the config file's directory", async () => {
    const box = sandbox();
    const dir = join(box.dir, 'profile-out');
    mkdirSync(dir, { recursive: true });
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ profiles: { nightly: { provider: 'relation', output: 'backups/' } } }), { mode: 0o600 });
    const result = await runCli(['--config', config, 'dump', '--provider', 'nightly', '--channel', CHANNEL, '--dry-run'], {
      env: box.env(),
      cwd: box.dir,
    });
    expect(result.code, result.stderr).toBe(0);
    expect((JSON.parse(result.stdout) as { output: string }).output).toBe(`${join(dir, 'backups')}/`);
    // a flag stays relative to where the command runs
    const flag = await runCli(['--config', config, 'dump', '--provider', 'nightly', '--channel', CHANNEL, '-o', 'here.jsonl', '--dry-run'], {
      env: box.env(),
      cwd: box.dir,
    });
    expect((JSON.parse(flag.stdout) as { output: string }).output).toBe(join(box.dir, 'here.jsonl'));
  });

  it('every command has examples in --help; dump --help lists the environment and the exit codes', async () => {
    const commands = [[], ['dump'], ['providers'], ['profile', 'add'], ['profile', 'set'], ['profile', 'unset'], ['profile', 'list'], ['profile', 'show'], ['profile', 'remove'], ['state', 'list'], ['state', 'reset'], ['config', 'path']];
    for (const command of commands) {
      const help = await runCli([...command, '--help'], { env: sandbox().env() });
      expect(help.code).toBe(0);
      expect(help.stdout, command.join(' ')).toMatch(/\nExamples:\n {2}\$ .*chat-export /);
    }
    const dump = (await runCli(['dump', '--help'], { env: sandbox().env() })).stdout;
    for (const variable of ['CHAT_EXPORT_TOKEN', 'CHAT_EXPORT_API_KEY', 'CHAT_EXPORT_BASE_URL', 'CHAT_EXPORT_CONFIG']) expect(dump).toContain(variable);
    expect(dump).toMatch(/Exit codes:/);
    for (const code of ['0', '2', '3', '4', '5', '6', '128\\+N', '141']) expect(dump).toMatch(new RegExp(`\\n {2}${code} +\\S`));
  });
});

describe.concurrent('transcript times are the reader\'s', () => {
  const server = useServer({ channels: [{ provider: 'dishawang', id: '27', count: 5, startTime: Date.UTC(2024, 0, 1, 15, 30) }] });
  const sandbox = useSandbox();
  const md = async (env: Record<string, string | undefined>, extra: string[] = []) => {
    const result = await runCli(['dump', '--provider', 'dishawang', '--channel', '27', '--base-url', server().url, '--format', 'md', '-q', ...extra], {
      env: sandbox().env(env),
    });
    expect(result.code, result.stderr).toBe(0);
    return result.stdout;
  };

  it('the machine\'s zone by default (TZ), named in the title; --tz for another; --timezone still reads the provider\'s naive times', async () => {
    // the first message is 2024-01-01T15:30Z: 2024-01-02 00:30 in Tokyo, 15:30 in UTC
    const tokyo = await md({ TZ: 'Asia/Tokyo' });
    expect(tokyo.split('\n')[0]).toMatch(/\(times in Asia\/Tokyo\)$/);
    expect(tokyo).toContain('\n## 2024-01-02\n');
    expect(tokyo).toMatch(/\*\* · 00:30\\\n/);
    const utc = await md({ TZ: 'Asia/Tokyo' }, ['--tz', 'UTC']);
    expect(utc.split('\n')[0]).toMatch(/\(times in UTC\)$/);
    expect(utc).toContain('\n## 2024-01-01\n');
    expect(utc).toMatch(/\*\* · 15:30\\\n/);
    // reading the server's naive times in another zone moves the instants, shown in the same reader's zone
    const readInUtc = await md({ TZ: 'Asia/Tokyo' }, ['--tz', 'UTC', '--timezone', 'UTC']);
    expect(readInUtc).toMatch(/\*\* · 23:30\\\n/);
    const bad = await runCli(['dump', '--provider', 'dishawang', '--channel', '27', '--base-url', server().url, '--tz', 'Mars/Phobos'], { env: sandbox().env() });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^chat-export: --tz: unknown timezone "Mars\/Phobos"/);
  });
});

describe.concurrent('--excel', () => {
  const server = useServer({ channels: [{ provider: 'discuz', id: '12', count: 5 }] });
  const sandbox = useSandbox();
  it('is CSV with a BOM and ids as ="…" text; refused with another format', async () => {
    const result = await runCli(['dump', '--provider', 'discuz', '--channel', '12', '--base-url', server().url, '--excel', '-q'], { env: sandbox().env() });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.startsWith('\ufeffid,timestamp,channel,provider,sender_id,sender_name,type,text,reply_to,edited_at,deleted,attachments\r\n')).toBe(true);
    expect(result.stdout.split('\r\n')[1]).toMatch(/^"=""\d+"""/);
    const plain = await runCli(['dump', '--provider', 'discuz', '--channel', '12', '--base-url', server().url, '--format', 'csv', '-q'], { env: sandbox().env() });
    expect(plain.stdout.startsWith('id,')).toBe(true);
    const md = await runCli(['dump', '--provider', 'discuz', '--channel', '12', '--base-url', server().url, '--excel', '--format', 'md'], { env: sandbox().env() });
    expect(md.code).toBe(2);
    expect(md.stderr).toMatch(/^chat-export: --excel is for CSV output, not md/);
  });
});
