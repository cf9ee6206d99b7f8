/**
 * `--dry-run` shows the plan a new user wants to check (also without a
 * credential), and `state` commands say which API root a state belongs to,
 * reset exactly what was asked, and live in the per-user state directory.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stateFileName } from '../../src/state.js';
import { runCli, type RunResult } from '../helpers/cli.js';
import { useSandbox, useServer } from '../helpers/fixtures.js';
import { createSandbox } from '../helpers/cli.js';

const C = 'st000000000000000000000000000001';

function explain(result: RunResult): string {
  return `exit ${result.code}\n--- stderr\n${result.stderr}\n--- stdout\n${result.stdout.slice(0, 2000)}`;
}

describe.concurrent('--dry-run', () => {
  const server = useServer({ channels: [{ provider: 'relation', id: C, count: 30 }] });
  const sandbox = useSandbox();

  it('works without a token: says what is missing (the profile\'s own variable) and shows the rest', async () => {
    const box = sandbox();
    const config = join(box.dir, 'dry-missing.json');
    writeFileSync(config, JSON.stringify({ profiles: { work: { provider: 'relation', tokenEnv: 'RELATION_TOKEN' } } }), { mode: 0o600 });
    const result = await runCli(['--config', config, 'dump', '--provider', 'work', '--channel', C, '--dry-run'], {
      env: box.env({ CHAT_EXPORT_TOKEN: undefined }),
    });
    expect(result.code, explain(result)).toBe(0);
    const shown = JSON.parse(result.stdout) as { token: null; missing: string[]; firstRequest: { url: string } };
    expect(shown.token).toBeNull();
    expect(shown.missing).toHaveLength(1);
    expect(shown.missing[0]).toMatch(/needs a token .*RELATION_TOKEN is not set/);
    expect(shown.firstRequest.url).toContain(`channelUuid=${C}`);
    expect(result.stderr).toMatch(/warning: .*needs a token/);
    // a real run still refuses
    const real = await runCli(['--config', config, 'dump', '--provider', 'work', '--channel', C], { env: box.env({ CHAT_EXPORT_TOKEN: undefined }) });
    expect(real.code).toBe(2);
  });

  it('shows each channel\'s output file, and whether --incremental would export in full or append', async () => {
    const box = sandbox();
    const out = join(box.dir, 'dry-out/');
    const args = ['dump', '--provider', 'relation', '--base-url', server().url, '--channel', C, '--channel', 'C2', '-o', out, '--incremental', '--rate', '1000'];
    const before = await runCli([...args, '--dry-run'], { env: box.env() });
    expect(before.code, explain(before)).toBe(0);
    const plan = JSON.parse(before.stdout) as { channels: Array<{ id: string; output: string; incremental: string }> };
    expect(plan.channels).toEqual([
      { id: C, output: join(out, `relation-${C}.jsonl`), incremental: 'full export (no state yet)' },
      { id: 'C2', output: join(out, 'relation-C2.jsonl'), incremental: 'full export (no state yet)' },
    ]);
    const real = await runCli(['dump', '--provider', 'relation', '--base-url', server().url, '--channel', C, '-o', out, '--incremental', '--rate', '1000'], { env: box.env() });
    expect(real.code, explain(real)).toBe(0);
    const after = JSON.parse((await runCli([...args, '--dry-run'], { env: box.env() })).stdout) as typeof plan;
    const newest = new Date(server().messages('relation', C)[0]!.time).toISOString();
    expect(after.channels[0]!.incremental).toBe(`append what is newer than ${newest} (30 messages so far)`);
    expect(after.channels[1]!.incremental).toBe('full export (no state yet)');
  });

  it('shows the zone in force: dishawang\'s +08:00 default, none for providers whose times carry a zone', async () => {
    const dry = async (provider: string, extra: string[] = []) =>
      JSON.parse((await runCli(['dump', '--provider', provider, '--channel', '26', '--base-url', 'https://bbs.example.com', '--dry-run', ...extra], { env: sandbox().env() })).stdout) as {
        timezone: string | null;
        tz?: string;
      };
    const dishawang = await dry('dishawang');
    expect(dishawang.timezone).toBe('+08:00');
    // dishawang takes no API key: none is shown (relation's is)
    expect('apiKey' in dishawang).toBe(false);
    expect('apiKey' in (await dry('relation'))).toBe(true);
    expect((await dry('dishawang', ['--timezone', 'Asia/Tokyo'])).timezone).toBe('Asia/Tokyo');
    expect((await dry('relation')).timezone).toBeNull();
    expect((await dry('relation', ['--format', 'md', '--tz', 'Asia/Tokyo'])).tz).toBe('Asia/Tokyo');
  });
});

describe.concurrent('state commands', () => {
  const a = useServer({ channels: [{ provider: 'relation', id: C, count: 12 }] });
  const b = useServer({ channels: [{ provider: 'relation', id: C, count: 7 }] });

  it('one channel on two API roots: list shows both roots; reset asks which, --base-url picks one; a profile alone resets all of it', async () => {
    const box = createSandbox();
    try {
      const run = (server: string, out: string) =>
        runCli(['dump', '--provider', 'relation', '--base-url', server, '--channel', C, '-o', join(box.dir, out), '--incremental', '--rate', '1000'], { env: box.env() });
      for (const [server, out] of [[a().url, 'a.jsonl'], [b().url, 'b.jsonl']] as const) {
        const result = await run(server, out);
        expect(result.code, explain(result)).toBe(0);
      }
      const list = await runCli(['state', 'list'], { env: box.env() });
      const lines = list.stdout.trim().split('\n').map((line) => line.split('\t'));
      expect(lines.map((fields) => fields.slice(0, 3)).sort()).toEqual([['relation', C, a().url], ['relation', C, b().url]].sort());

      const ambiguous = await runCli(['state', 'reset', 'relation', '--channel', C], { env: box.env() });
      expect(ambiguous.code, explain(ambiguous)).toBe(2);
      expect(ambiguous.stderr).toMatch(/has state for 2 API roots: .* — add --base-url/);
      expect(ambiguous.stderr).toContain(a().url);

      const one = await runCli(['state', 'reset', 'relation', '--channel', C, '--base-url', `${a().url}/`], { env: box.env() });
      expect(one.code, explain(one)).toBe(0);
      const left = (await runCli(['state', 'list'], { env: box.env() })).stdout.trim().split('\n');
      expect(left).toHaveLength(1);
      expect(left[0]!.split('\t')[2]).toBe(b().url);

      const nothing = await runCli(['state', 'reset', 'nosuch', '--channel', '1'], { env: box.env() });
      expect(nothing.code).toBe(2);
      expect(nothing.stderr).toMatch(/^chat-export: no incremental state for nosuch channel 1 — profiles with state: relation/);

      const all = await runCli(['state', 'reset', 'relation'], { env: box.env() });
      expect(all.code, explain(all)).toBe(0);
      expect(all.stderr).toBe('chat-export: reset 1 channel of relation\n');
      expect((await runCli(['state', 'list'], { env: box.env() })).stdout).toBe('');
    } finally {
      box.cleanup();
    }
  });

  it('with the per-user config, state lives under XDG_STATE_HOME; state left beside the config is moved there once', async () => {
    const box = createSandbox();
    try {
      const env = box.env({ CHAT_EXPORT_CONFIG: undefined });
      const legacy = join(box.dir, 'xdg-config', 'chat-export-nodejs', 'state');
      const moved = join(box.dir, 'xdg-state', 'chat-export-nodejs');
      const name = stateFileName('work', 'channel', 'C9', 'https://api.example.com');
      mkdirSync(legacy, { recursive: true });
      writeFileSync(
        join(legacy, name),
        JSON.stringify({
          version: 1, profile: 'work', provider: 'relation', channel: 'C9', kind: 'channel', newest: null, output: '/srv/x.jsonl',
          format: 'jsonl', order: 'asc', size: 0, lastDay: null, messages: 0, updatedAt: '2024-01-01T00:00:00.000Z', pending: null,
        }),
      );
      const list = await runCli(['state', 'list'], { env });
      expect(list.code, explain(list)).toBe(0);
      expect(list.stdout).toMatch(/^work\tC9\t/);
      expect(list.stderr).toBe(`chat-export: moved incremental state and checkpoints from ${legacy} to ${moved} (once; state now lives there)\n`);
      expect(existsSync(legacy)).toBe(false);
      expect(readdirSync(moved)).toEqual([name]);
      const again = await runCli(['state', 'list'], { env });
      expect(again.stderr).toBe('');
      expect(again.stdout).toBe(list.stdout);
    } finally {
      box.cleanup();
    }
  });
});
