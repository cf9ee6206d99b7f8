/**
 * DESIGN.md section 5 "No silent loss", class by class (issue 11): every way
 * a run could lose, duplicate or corrupt a message while exiting 0 is made
 * exact, or loud (exit 2 before any request, or exit 5 naming what is
 * missing — also under -q). Each test drives the real CLI against the
 * loopback fixture server and checks the exact ids written and the exit code.
 */
import { spawn } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startFixtureServer, type ChannelSpec, type FaultRule, type FixtureServer, type Provider } from '../../fixtures/server.js';
import { BIN, createSandbox, runCli, type RunResult, type Sandbox } from '../helpers/cli.js';
import { jsonlIds, truthIds } from '../helpers/ground-truth.js';

const servers: FixtureServer[] = [];
const boxes: Sandbox[] = [];
afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
  for (const box of boxes) box.cleanup();
});

async function serve(channels: ChannelSpec[], options: { latencyMs?: number; faults?: FaultRule[] } = {}): Promise<FixtureServer> {
  const server = await startFixtureServer({ channels, ...options });
  servers.push(server);
  return server;
}

function sandbox(): Sandbox {
  const box = createSandbox();
  boxes.push(box);
  mkdirSync(join(box.dir, 'out'), { recursive: true });
  return box;
}

const stateDir = (box: Sandbox) => join(box.dir, 'state');

function dump(server: FixtureServer | string, box: Sandbox, args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  const url = typeof server === 'string' ? server : server.url;
  return runCli(['dump', '--base-url', url, '--no-progress', '--rate', '1000', '--state-dir', stateDir(box), ...args], {
    env: box.env(env),
    timeoutMs: 45_000,
  });
}

const explain = (result: RunResult) => `exit ${result.code}\n--- stderr\n${result.stderr}`;

/** Each provider with a channel spec of its own (page sizes chosen so walks take several pages). */
const PROVIDERS: Array<{ provider: Provider; pageArgs: string[]; perPage: number }> = [
  { provider: 'relation', pageArgs: ['--page-size', '10'], perPage: 10 },
  { provider: 'discuz', pageArgs: ['--page-size', '10'], perPage: 10 },
  { provider: 'dishawang', pageArgs: [], perPage: 10 },
];

describe.concurrent('1. a resume continues only the very same export', () => {
  it.each([
    { provider: 'relation' as Provider, first: ['--page-size', '10'], second: ['--page-size', '50'], change: /--page-size 10 → 50/ },
    { provider: 'discuz' as Provider, first: ['--page-size', '10'], second: ['--page-size', '10', '--raw'], change: /--raw false → true/ },
    { provider: 'dishawang' as Provider, first: [], second: ['--timezone', '+00:00'], change: /--timezone .* → "\+00:00"/ },
  ])('$provider: a checkpoint of another export ($second) is not resumed: it starts over, says so, and the output is exact', async ({ provider, first, second, change }) => {
    const channel = `rk-${provider}`.replace('rk-discuz', '71').replace('rk-dishawang', '72');
    const server = await serve([{ provider, id: channel, count: 120 }], { faults: [{ kind: 'status', status: 500, nth: 7, times: 100 }] });
    const box = sandbox();
    const target = join(box.dir, 'out', 'all.jsonl');
    const args = ['--provider', provider, '--channel', channel, '-o', target, '--retries', '0', '--concurrency', '1'];
    const failed = await dump(server, box, [...args, ...first], { CHAT_EXPORT_RUN_SIZE: '10' });
    expect(failed.code, explain(failed)).toBe(4);
    expect(failed.stderr).toMatch(/--resume/);
    server.clearFaults();
    const resumed = await dump(server, box, [...args, ...second, '--resume'], { CHAT_EXPORT_RUN_SIZE: '10' });
    expect(resumed.code, explain(resumed)).toBe(0);
    expect(resumed.stderr).toMatch(/the checkpoint is of another export/);
    expect(resumed.stderr).toMatch(change);
    const text = readFileSync(target, 'utf8');
    expect(jsonlIds(text)).toEqual(truthIds(server, provider, channel));
    const full = sandbox();
    const fresh = await dump(server, full, ['--provider', provider, '--channel', channel, ...second, '-o', '-']);
    expect(fresh.code, explain(fresh)).toBe(0);
    expect(text).toBe(fresh.stdout); // raw on every line, or every timestamp in the one zone
  });
});

describe.concurrent('2. checkpoints follow time, and are announced only when they exist', () => {
  it('a slow API (10 a page) killed after 20 pages left a checkpoint; --resume asks only for what is left', async () => {
    const server = await serve([{ provider: 'relation', id: 'slow', count: 300 }], { latencyMs: 60 });
    const box = sandbox();
    const target = join(box.dir, 'out', 'slow.jsonl');
    const args = ['--provider', 'relation', '--channel', 'slow', '-o', target, '--page-size', '10'];
    const env = { CHAT_EXPORT_CHECKPOINT_MS: '200' };
    const killed = await runKilled(server, box, args, env, 20);
    expect(killed.signal).toBe('SIGKILL');
    const checkpoints = join(stateDir(box), 'checkpoints');
    expect(readdirSync(checkpoints)).toHaveLength(1);
    server.resetLog();
    const resumed = await dump(server, box, [...args, '--resume'], env);
    expect(resumed.code, explain(resumed)).toBe(0);
    expect(resumed.stderr).toMatch(/resuming after \d+ messages/);
    // the whole walk is 31 requests: at least 5 pages were checkpointed before the kill (timing on a busy machine varies)
    expect(server.log.length).toBeLessThanOrEqual(31 - 5);
    expect(jsonlIds(readFileSync(target, 'utf8'))).toEqual(truthIds(server, 'relation', 'slow'));
    expect(readdirSync(checkpoints)).toEqual([]);
  });

  it('a final write that fails (disk full: /dev/full) keeps the checkpoint: --resume writes it without asking the server again', async () => {
    const server = await serve([{ provider: 'dishawang', id: '89', count: 60 }]);
    const box = sandbox();
    const args = ['--provider', 'dishawang', '--channel', '89'];
    const env = { CHAT_EXPORT_RUN_SIZE: '10' };
    const failed = await dump(server, box, [...args, '-o', '/dev/full'], env);
    expect(failed.code, explain(failed)).not.toBe(0);
    expect(readdirSync(join(stateDir(box), 'checkpoints'))).toHaveLength(1);
    server.resetLog();
    const target = join(box.dir, 'out', 'after-full.jsonl');
    const resumed = await dump(server, box, [...args, '-o', target, '--resume'], env);
    expect(resumed.code, explain(resumed)).toBe(0);
    expect(server.log).toHaveLength(0);
    expect(jsonlIds(readFileSync(target, 'utf8'))).toEqual(truthIds(server, 'dishawang', '89'));
  });

  it('a failure before any checkpoint does not tell the user to --resume', async () => {
    const server = await serve([{ provider: 'discuz', id: '73', count: 100 }], { faults: [{ kind: 'status', status: 500, nth: 2, times: 100 }] });
    const box = sandbox();
    const failed = await dump(server, box, ['--provider', 'discuz', '--channel', '73', '--page-size', '10', '--retries', '0', '--concurrency', '1', '-o', join(box.dir, 'out', 'x.jsonl')]);
    expect(failed.code, explain(failed)).toBe(4);
    expect(failed.stderr).not.toMatch(/--resume|checkpoint/);
    expect(existsSync(join(stateDir(box), 'checkpoints')) ? readdirSync(join(stateDir(box), 'checkpoints')) : []).toEqual([]);
  });
});

describe('3. one run per channel: the lock is taken over atomically', () => {
  it('six runs started together against a dead run\'s lock: exactly one gets it, every time', async () => {
    const server = await serve([{ provider: 'relation', id: 'locked', count: 30 }], { faults: [{ kind: 'delay', ms: 60_000 }] });
    const box = sandbox();
    const args = ['--provider', 'relation', '--channel', 'locked', '--incremental', '--retries', '0', '-q'];
    for (let round = 0; round < 3; round++) {
      const locks = join(stateDir(box), 'locks');
      mkdirSync(locks, { recursive: true });
      for (const name of readdirSync(locks)) rmSync(join(locks, name), { force: true });
      writeFileSync(join(locks, lockName(box, server, round)), String(deadPid()));
      const runs = Array.from({ length: 6 }, (_, k) => dump(server, box, [...args, '-o', join(box.dir, 'out', `r${round}-${k}.jsonl`), '--timeout', '20000']));
      const results = await Promise.all(runs);
      const refused = results.filter((r) => r.code === 2 && /another chat-export \(pid \d+\) is exporting it/.test(r.stderr));
      // the one that got the lock waited on the server (delayed 60 s) until its own timeout
      expect(refused, results.map(explain).join('\n')).toHaveLength(5);
    }
  }, 180_000);
});

describe.concurrent('4. an output file belongs to one source', () => {
  it.each(PROVIDERS)('$provider: the same cron line with a trailing slash after the server dropped old messages appends only the new ones', async ({ provider, pageArgs }) => {
    const channel = provider === 'relation' ? 'own-rel' : provider === 'discuz' ? '74' : '75';
    const server = await serve([{ provider, id: channel, count: 10 }]);
    const box = sandbox();
    const target = join(box.dir, 'out', `${provider}.jsonl`);
    const args = ['--provider', provider, '--channel', channel, '-o', target, '--incremental', ...pageArgs];
    const first = await dump(server, box, args);
    expect(first.code, explain(first)).toBe(0);
    const before = truthIds(server, provider, channel);
    server.drop(provider, channel, 8); // retention: m0–m7 are gone from the server
    server.insert(provider, channel, 2);
    const again = await dump(`${server.url}/`, box, args);
    expect(again.code, explain(again)).toBe(0);
    expect(jsonlIds(readFileSync(target, 'utf8'))).toEqual([...before, ...truthIds(server, provider, channel).slice(-2)]);
  });

  it('two profiles on two sites with the same dialog id into one directory: {profile}-{channel} files, each its own site\'s', async () => {
    const a = await serve([{ provider: 'discuz', id: '12', count: 30, seed: 1 }]);
    const b = await serve([{ provider: 'discuz', id: '12', count: 20, seed: 2 }]);
    const box = sandbox();
    mkdirSync(join(box.config, '..'), { recursive: true });
    writeFileSync(box.config, JSON.stringify({ profiles: { siteA: { provider: 'discuz', baseUrl: a.url }, siteB: { provider: 'discuz', baseUrl: b.url } } }));
    const out = join(box.dir, 'out', 'dir') + '/';
    for (const profile of ['siteA', 'siteB']) {
      const result = await runCli(['dump', '--provider', profile, '--channel', '12', '-o', out, '--incremental', '--state-dir', stateDir(box), '--no-progress'], { env: box.env() });
      expect(result.code, explain(result)).toBe(0);
    }
    expect(readdirSync(out).sort()).toEqual(['siteA-12.jsonl', 'siteB-12.jsonl']);
    expect(jsonlIds(readFileSync(join(out, 'siteA-12.jsonl'), 'utf8'))).toEqual(truthIds(a, 'discuz', '12'));
    expect(jsonlIds(readFileSync(join(out, 'siteB-12.jsonl'), 'utf8'))).toEqual(truthIds(b, 'discuz', '12'));
  });

  it('templates: {host} {provider} {channel} {ext} name the files; two channels resolving to one file are exit 2 before any request', async () => {
    const server = await serve([
      { provider: 'relation', id: 'tA', count: 15 },
      { provider: 'relation', id: 'tB', count: 12 },
    ]);
    const box = sandbox();
    const pattern = join(box.dir, 'out', '{host}', '{provider}-{channel}.{ext}');
    const ok = await dump(server, box, ['--provider', 'relation', '--channel', 'tA', '--channel', 'tB', '-o', pattern, '--format', 'csv']);
    expect(ok.code, explain(ok)).toBe(0);
    const host = new URL(server.url).host.replace(':', '_');
    expect(readdirSync(join(box.dir, 'out', host)).sort()).toEqual(['relation-tA.csv', 'relation-tB.csv']);

    server.resetLog();
    const clash = await dump(server, box, ['--provider', 'relation', '--channel', 'tA', '--channel', 'tB', '-o', join(box.dir, 'out', '{provider}.{ext}')]);
    expect(clash.code, explain(clash)).toBe(2);
    expect(clash.stderr).toMatch(/relation channel tA and relation channel tB would both be written to .*relation\.jsonl/);
    expect(server.log).toHaveLength(0);
  });

});

describe.concurrent('5. --incremental appends only to the file it last wrote', () => {
  const edits: Array<{ name: string; edit: (path: string) => void; adopt: 'exact' | 'refused' }> = [
    // (CSV keeps only its header: a CSV record may span lines, and a cut record is refused, see below)
    { name: 'head', edit: (path) => writeFileSync(path, readFileSync(path, 'utf8').split('\n').slice(0, path.endsWith('.csv') ? 1 : 5).join('\n') + '\n'), adopt: 'exact' },
    { name: 'emptied', edit: (path) => writeFileSync(path, ''), adopt: 'exact' },
    // a cut last line: appending after it would glue two records together
    { name: 'truncate -s -30', edit: (path) => truncateSync(path, readFileSync(path).length - 30), adopt: 'refused' },
    {
      name: 'one byte changed, same size',
      edit: (path) => {
        const bytes = readFileSync(path);
        bytes[2] = 0x49; // {"id" → {"Id", and the CSV header's id → Id
        writeFileSync(path, bytes);
      },
      adopt: 'refused',
    },
  ];
  it.each(edits.flatMap((edit) => (['jsonl', 'csv'] as const).map((format) => ({ ...edit, format }))))(
    '$format edited by the user ($name): exit 2 before any request naming the file, the file untouched; --adopt: $adopt',
    async ({ name, edit, adopt, format }) => {
      const channel = `ed-${format}-${name.replace(/[^a-z0-9]/g, '')}`;
      const server = await serve([{ provider: 'relation', id: channel, count: 40 }]);
      const box = sandbox();
      const target = join(box.dir, 'out', `backup.${format}`);
      const args = ['--provider', 'relation', '--channel', channel, '-o', target, '--incremental', '-q'];
      const first = await dump(server, box, args);
      expect(first.code, explain(first)).toBe(0);
      edit(target);
      const edited = readFileSync(target);
      server.insert('relation', channel, 3);
      server.resetLog();
      const refused = await dump(server, box, args);
      expect(refused.code, explain(refused)).toBe(2);
      expect(refused.stderr).toContain(target);
      expect(refused.stderr).toMatch(/--adopt/);
      expect(server.log).toHaveLength(0);
      expect(readFileSync(target).equals(edited)).toBe(true);

      const adopted = await dump(server, box, [...args, '--adopt']);
      if (adopt === 'refused') {
        expect(adopted.code, explain(adopted)).toBe(2);
        expect(adopted.stderr).toMatch(/cannot be continued/);
        expect(readFileSync(target).equals(edited)).toBe(true);
        return;
      }
      expect(adopted.code, explain(adopted)).toBe(0);
      const full = await dump(server, sandbox(), ['--provider', 'relation', '--channel', channel, '--format', format, '-o', '-']);
      expect(readFileSync(target, 'utf8')).toBe(full.stdout);
    },
  );

  it('an existing file no state records (a new machine, a state reset): exit 2, then --adopt appends only what is newer', async () => {
    const server = await serve([{ provider: 'dishawang', id: '76', count: 35 }]);
    const box = sandbox();
    const target = join(box.dir, 'out', 'd.csv');
    const plain = await dump(server, box, ['--provider', 'dishawang', '--channel', '76', '-o', target]);
    expect(plain.code, explain(plain)).toBe(0);
    const written = readFileSync(target, 'utf8');
    server.insert('dishawang', '76', 4);
    const args = ['--provider', 'dishawang', '--channel', '76', '-o', target, '--incremental'];
    const refused = await dump(server, box, args);
    expect(refused.code, explain(refused)).toBe(2);
    expect(refused.stderr).toMatch(/d\.csv already exists and no incremental state of dishawang .* records it/);
    expect(readFileSync(target, 'utf8')).toBe(written);
    const adopted = await dump(server, box, [...args, '--adopt']);
    expect(adopted.code, explain(adopted)).toBe(0);
    const full = await dump(server, sandbox(), ['--provider', 'dishawang', '--channel', '76', '--format', 'csv', '-o', '-']);
    expect(readFileSync(target, 'utf8')).toBe(full.stdout);
  });

  it('--excel CSV (BOM, ids as ="…") can be adopted too: the appended rows make it equal to a full --excel export', async () => {
    // the two newest share a second: only their real ids keep them from being appended again
    const server = await serve([{ provider: 'discuz', id: '90', count: 30, ties: [{ at: 28, size: 2 }] }]);
    const box = sandbox();
    const target = join(box.dir, 'out', 'x.csv');
    const plain = await dump(server, box, ['--provider', 'discuz', '--channel', '90', '--excel', '-o', target]);
    expect(plain.code, explain(plain)).toBe(0);
    server.insert('discuz', '90', 3);
    const adopted = await dump(server, box, ['--provider', 'discuz', '--channel', '90', '--excel', '-o', target, '--incremental', '--adopt']);
    expect(adopted.code, explain(adopted)).toBe(0);
    const full = await dump(server, sandbox(), ['--provider', 'discuz', '--channel', '90', '--excel', '--format', 'csv', '-o', '-']);
    expect(readFileSync(target, 'utf8')).toBe(full.stdout);
  });

  it('a state whose output is gone: exit 2 saying so, nothing written', async () => {
    const server = await serve([{ provider: 'discuz', id: '77', count: 25 }]);
    const box = sandbox();
    const target = join(box.dir, 'out', 'gone.jsonl');
    const args = ['--provider', 'discuz', '--channel', '77', '-o', target, '--incremental'];
    expect((await dump(server, box, args)).code).toBe(0);
    rmSync(target);
    server.resetLog();
    const refused = await dump(server, box, args);
    expect(refused.code, explain(refused)).toBe(2);
    expect(refused.stderr).toMatch(/gone\.jsonl is gone, but the incremental state .* says it held 25 messages/);
    expect(existsSync(target)).toBe(false);
    expect(server.log).toHaveLength(0);
  });
});

describe.concurrent('6. a message dated in the future does not hide later ones', () => {
  it.each(PROVIDERS)('$provider: one message in 2100, then three new ones: the next run appends exactly those three, the one after nothing', async ({ provider, pageArgs }) => {
    const channel = provider === 'relation' ? 'fut' : provider === 'discuz' ? '78' : '79';
    const server = await serve([{ provider, id: channel, count: 30, futureAt: [29] }]);
    const box = sandbox();
    const target = join(box.dir, 'out', 'f.jsonl');
    const args = ['--provider', provider, '--channel', channel, '-o', target, '--incremental', ...pageArgs];
    const first = await dump(server, box, args);
    expect(first.code, explain(first)).toBe(0);
    const before = jsonlIds(readFileSync(target, 'utf8'));
    expect(before).toEqual(truthIds(server, provider, channel));
    server.insert(provider, channel, 3);
    const second = await dump(server, box, args);
    expect(second.code, explain(second)).toBe(0);
    const added = server.messages(provider, channel).filter((m) => !before.includes(m.id)).map((m) => m.id).reverse();
    expect(added).toHaveLength(3);
    expect(jsonlIds(readFileSync(target, 'utf8'))).toEqual([...before, ...added]);
    const third = await dump(server, box, args);
    expect(third.code, explain(third)).toBe(0);
    expect(jsonlIds(readFileSync(target, 'utf8'))).toEqual([...before, ...added]);
  });
});

describe.concurrent('7. --incremental with --limit', () => {
  it('is exit 2 before any request', async () => {
    const server = await serve([{ provider: 'relation', id: 'lim', count: 20 }]);
    const box = sandbox();
    const result = await dump(server, box, ['--provider', 'relation', '--channel', 'lim', '--incremental', '--limit', '3', '-o', join(box.dir, 'out', 'l.jsonl')]);
    expect(result.code, explain(result)).toBe(2);
    expect(result.stderr).toMatch(/--incremental with --limit/);
    expect(server.log).toHaveLength(0);
  });
});

describe.concurrent('8. an empty or short page before the announced end is not the end', () => {
  it.each([
    { provider: 'discuz' as Provider, channel: '80', keep: 0 },
    { provider: 'dishawang' as Provider, channel: '81', keep: 0 },
    { provider: 'discuz' as Provider, channel: '82', keep: 4 },
    { provider: 'dishawang' as Provider, channel: '83', keep: 3 },
  ])('$provider: page 3 answered with $keep records once → read again, the export is exact (exit 0)', async ({ provider, channel, keep }) => {
    const server = await serve([{ provider, id: channel, count: 100 }], { faults: [{ kind: 'withhold', keep, nth: 3 }] });
    const box = sandbox();
    const result = await dump(server, box, ['--provider', provider, '--channel', channel, '--page-size', '10', '--concurrency', '1', '-o', '-']);
    expect(result.code, explain(result)).toBe(0);
    expect(jsonlIds(result.stdout)).toEqual(truthIds(server, provider, channel));
  });

  it.each([
    { provider: 'discuz' as Provider, channel: '84' },
    { provider: 'dishawang' as Provider, channel: '85' },
  ])('$provider: page 3 withheld on every read → the walk goes on past it, the rest is written, exit 5 naming page 3 (also under -q)', async ({ provider, channel }) => {
    const server = await serve([{ provider, id: channel, count: 100 }], { faults: [{ kind: 'withhold', nth: 3, times: 4 }] });
    const box = sandbox();
    const result = await dump(server, box, ['--provider', provider, '--channel', channel, '--page-size', '10', '--concurrency', '1', '-q', '-o', '-']);
    expect(result.code, explain(result)).toBe(5);
    expect(result.stderr).toMatch(/page 3 came back with 0 of 10 messages 4 times, though the server announced 100 messages.*\(10 messages missing\)/);
    const truth = truthIds(server, provider, channel);
    const page3 = truth.slice(-30, -20); // newest first: page 3 holds the 21st–30th newest
    expect(jsonlIds(result.stdout)).toEqual(truth.filter((id) => !page3.includes(id)));
  });
});

describe.concurrent('9. a tie larger than the server\'s page cap', () => {
  it('30 messages at one millisecond, 20 a page at most: the rest is written, exit 5 naming the millisecond, also under -q', async () => {
    const server = await serve([{ provider: 'relation', id: 'tie', count: 80, ties: [{ at: 40, size: 30 }], pageCap: 20 }]);
    const box = sandbox();
    const result = await dump(server, box, ['--provider', 'relation', '--channel', 'tie', '--page-size', '10', '-q', '-o', '-']);
    expect(result.code, explain(result)).toBe(5);
    expect(result.stderr).toMatch(/20 messages share the millisecond .* any more at that millisecond could not be fetched/);
    const got = jsonlIds(result.stdout);
    expect(got).toHaveLength(70);
    expect(new Set(got).size).toBe(70);
    for (const id of got) expect(truthIds(server, 'relation', 'tie')).toContain(id);
  });
});

describe.concurrent('10. a symbolic link at the target', () => {
  it.each([[false], [true]])('is written through (incremental: %s): the link stays, the file it points to gets the export', async (incremental) => {
    const server = await serve([{ provider: 'dishawang', id: incremental ? '86' : '87', count: 25 }]);
    const box = sandbox();
    const channel = incremental ? '86' : '87';
    mkdirSync(join(box.dir, 'disk'));
    writeFileSync(join(box.dir, 'disk', 'chat.jsonl'), '');
    const link = join(box.dir, 'out', 'current.jsonl');
    symlinkSync(join(box.dir, 'disk', 'chat.jsonl'), link);
    const args = ['--provider', 'dishawang', '--channel', channel, '-o', link, ...(incremental ? ['--incremental', '--order', 'desc'] : [])];
    for (const count of [0, 3]) {
      server.insert('dishawang', channel, count);
      const result = await dump(server, box, args);
      expect(result.code, explain(result)).toBe(0);
    }
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe(join(box.dir, 'disk', 'chat.jsonl'));
    const ids = jsonlIds(readFileSync(join(box.dir, 'disk', 'chat.jsonl'), 'utf8'));
    const truth = truthIds(server, 'dishawang', channel);
    expect(ids).toEqual(incremental ? truth.reverse() : truth);
    expect(readdirSync(join(box.dir, 'out'))).toEqual(['current.jsonl']);
  });
});

describe.concurrent('11. --resume when the spooled messages are gone', () => {
  /**
   * A discuz export stopped by a 500 after its spool holds spilled runs (exit 4); `spoil` is given the spool
   * directory to damage, then --resume runs with the server healthy again.
   */
  async function resumeAfter(channel: string, spoil: (spool: string) => void) {
    const server = await serve([{ provider: 'discuz', id: channel, count: 120 }], { faults: [{ kind: 'status', status: 500, nth: 8, times: 100 }] });
    const box = sandbox();
    const target = join(box.dir, 'out', 'r.jsonl');
    const args = ['--provider', 'discuz', '--channel', channel, '--page-size', '10', '--concurrency', '1', '--retries', '0', '-o', target];
    const failed = await dump(server, box, args, { CHAT_EXPORT_RUN_SIZE: '10' });
    expect(failed.code, explain(failed)).toBe(4);
    const [checkpoint] = readdirSync(join(stateDir(box), 'checkpoints'));
    spoil(join(stateDir(box), 'checkpoints', checkpoint!, 'spool'));
    server.clearFaults();
    const resumed = await dump(server, box, [...args, '--resume'], { CHAT_EXPORT_RUN_SIZE: '10' });
    return { resumed, ids: () => jsonlIds(readFileSync(target, 'utf8')), truth: truthIds(server, 'discuz', channel) };
  }

  it('starts over and says so; the output is exact; no internal error', async () => {
    const { resumed, ids, truth } = await resumeAfter('88', (spool) => rmSync(join(spool, 'run-0.jsonl')));
    expect(resumed.code, explain(resumed)).toBe(0);
    expect(resumed.stderr).toMatch(/spooled messages .* are gone; starting from the beginning/);
    expect(ids()).toEqual(truth);
  });

  it('a spooled run cut short (runs are not fsynced: a power loss) is not resumed from: starts over, exact', async () => {
    const { resumed, ids, truth } = await resumeAfter('89', (spool) => {
      const run = join(spool, 'run-1.jsonl');
      const lines = readFileSync(run, 'utf8').split('\n');
      // cut at a line boundary: a reader that trusts the file would see fewer, well-formed lines
      writeFileSync(run, lines.slice(0, 3).join('\n') + '\n');
    });
    expect(resumed.code, explain(resumed)).toBe(0);
    expect(resumed.stderr).toMatch(/spooled messages .*run-1\.jsonl\) are cut short .*; starting from the beginning/);
    expect(ids()).toEqual(truth);
  });
});

describe.concurrent('12. state reset removes only what the tool wrote', () => {
  it('state reset --all --state-dir . keeps package.json and tsconfig.json', async () => {
    const server = await serve([{ provider: 'relation', id: 'rst', count: 10 }]);
    const box = sandbox();
    const dir = stateDir(box);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), '{"name":"mine"}\n');
    writeFileSync(join(dir, 'tsconfig.json'), '{}\n');
    writeFileSync(join(dir, 'notes-0123456789ab.json'), '{"not":"a state"}\n'); // our name pattern, not our content
    const result = await dump(server, box, ['--provider', 'relation', '--channel', 'rst', '--incremental', '-o', join(box.dir, 'out', 's.jsonl')]);
    expect(result.code, explain(result)).toBe(0);
    expect(readdirSync(dir).filter((name) => name.endsWith('.json'))).toHaveLength(4);
    const reset = await runCli(['state', 'reset', '--all', '--state-dir', dir], { env: box.env() });
    expect(reset.code, explain(reset)).toBe(0);
    expect(readdirSync(dir).filter((name) => name.endsWith('.json')).sort()).toEqual(['notes-0123456789ab.json', 'package.json', 'tsconfig.json']);
  });
});

function lockName(box: Sandbox, server: FixtureServer, _round: number): string {
  void box;
  // the lock is named like the state: profile "relation", channel "locked", the normalized API root
  const url = new URL(server.url);
  const api = `${url.protocol}//${url.host}`;
  return stateFileNameFor('relation', 'channel', 'locked', api).replace(/\.json$/, '.lock');
}

import { createHash } from 'node:crypto';
/** The same naming as src/state.ts, written out so the test does not import the code under test. */
function stateFileNameFor(profile: string, kind: string, channel: string, api: string): string {
  const readable = `${profile}-${kind}-${channel}`.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 80);
  const hash = createHash('sha256').update(`${profile}\0${kind}\0${channel}\0${api}`).digest('hex').slice(0, 12);
  return `${readable}-${hash}.json`;
}

function deadPid(): number {
  let pid = 4_000_000;
  for (;;) {
    try {
      process.kill(pid, 0);
      pid++;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return pid;
      pid++;
    }
  }
}

/** Starts the CLI and SIGKILLs it once the server has seen `requests` requests. */
function runKilled(server: FixtureServer, box: Sandbox, args: string[], env: Record<string, string>, requests: number): Promise<{ signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'dump', '--base-url', server.url, '--no-progress', '--rate', '1000', '--state-dir', stateDir(box), ...args], {
      env: box.env(env),
      stdio: 'ignore',
    });
    const poll = setInterval(() => {
      if (server.log.length >= requests) child.kill('SIGKILL');
    }, 5);
    const guard = setTimeout(() => child.kill('SIGKILL'), 40_000);
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      clearInterval(poll);
      clearTimeout(guard);
      resolve({ signal });
    });
  });
}
