/**
 * Edges of input and output through the real CLI: JSONL lines with fields of
 * the wrong type, server error messages of megabytes, a system message that
 * quotes another in HTML, and what a run's summary line says it did.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { startFixtureServer, type FixtureServer } from '../../fixtures/server.js';
import { createSandbox, runCli, type RunResult, type Sandbox } from '../helpers/cli.js';
import { scriptedServer, type Cleanup } from '../helpers/servers.js';

const cleanups: Cleanup[] = [];
const box: Sandbox = createSandbox();
afterAll(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
  box.cleanup();
});

function explain(result: Pick<RunResult, 'code' | 'stderr'>): string {
  return `exit ${result.code}\n--- stderr\n${result.stderr.slice(0, 3000)}`;
}

function message(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    provider: 'relation',
    channel: 'C1',
    timestamp: new Date(1_700_000_000_000 + Number(id) * 60_000).toISOString(),
    sender: { id: 'u1', name: 'Ann', avatar: null },
    type: 'text',
    text: `message ${id}`,
    replyTo: null,
    editedAt: null,
    deleted: false,
    attachments: [],
    ...extra,
  };
}

describe('convert of a JSONL line whose fields have the wrong type', () => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['attachments: [null]', { attachments: [null] }, /attachments\[0\]/],
    ['sender.name an object', { sender: { id: 'u1', name: { first: 'Ann' }, avatar: null } }, /sender\.name/],
    ['editedAt: "garbage"', { editedAt: 'garbage' }, /editedAt/],
    ['replyTo: 7', { replyTo: 7 }, /replyTo/],
    ['deleted: "yes"', { deleted: 'yes' }, /deleted/],
    ['attachments: [{ url: 5 }]', { attachments: [{ url: 5, name: null, type: null }] }, /attachments\[0\]\.url/],
  ];
  it.each(cases)('%s: exit 2 naming the line and the field, for every output format, no file written', async (_name, bad, field) => {
    const input = join(box.dir, 'typed.jsonl');
    writeFileSync(input, `${JSON.stringify(message('1'))}\n${JSON.stringify(message('2', bad))}\n${JSON.stringify(message('3'))}\n`);
    for (const ext of ['jsonl', 'html', 'md', 'csv', 'sqlite']) {
      const out = join(box.dir, `typed-out.${ext}`);
      const result = await runCli(['convert', input, '-o', out], { env: box.env() });
      expect(result.code, `${ext}: ${explain(result)}`).toBe(2);
      const lines = result.stderr.split('\n').filter(Boolean);
      expect(lines, result.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/line 2 is not a chat-export message/);
      expect(lines[0]).toMatch(field);
      // files are written whole or not at all; an archive import keeps what it committed, as every archive write does
      if (ext !== 'sqlite') expect(existsSync(out)).toBe(false);
    }
  });
});

describe('a server error message of 3 MB', () => {
  it('is shown cut to a readable excerpt on one line, wherever it comes from (envelope message, HTTP error body)', async () => {
    const big = 'E'.repeat(3 << 20);
    const server = await scriptedServer(cleanups, (req, res) => {
      if ((req.url ?? '').includes('/im/')) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 0, msg: `login expired ${big}`, data: null }));
      } else if ((req.url ?? '').includes('channelUuid=A')) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ code: '10120', desc: big, data: null }));
      } else {
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ code: '500', desc: big }));
      }
    });
    const runs: Array<[string[], number]> = [
      [['--provider', 'relation', '--channel', 'A'], 3],
      [['--provider', 'relation', '--channel', 'B'], 4],
      [['--provider', 'dishawang', '--channel', '1'], 3],
    ];
    for (const [args, code] of runs) {
      const result = await runCli(['dump', ...args, '--base-url', server.url, '--no-progress', '--retries', '0'], { env: box.env() });
      expect(result.code, explain(result)).toBe(code);
      const lines = result.stderr.split('\n').filter(Boolean);
      expect(lines.length, explain(result)).toBeGreaterThan(0);
      for (const line of lines) expect(line.length, line.slice(0, 200)).toBeLessThan(2000);
      expect(result.stderr).toMatch(/EEEE/);
    }
  });
});

describe('HTML: a system message that quotes another', () => {
  it('shows the quote and links it, as for any other message', async () => {
    const input = join(box.dir, 'system-quote.jsonl');
    const system = message('2', { type: 'system', text: 'Ann pinned a message', sender: { id: '', name: null, avatar: null }, replyTo: '1' });
    writeFileSync(input, `${JSON.stringify(message('1', { text: 'the plan' }))}\n${JSON.stringify(system)}\n`);
    const out = join(box.dir, 'system-quote.html');
    const result = await runCli(['convert', input, '-o', out], { env: box.env() });
    expect(result.code, explain(result)).toBe(0);
    const html = readFileSync(out, 'utf8');
    const article = /<article class="msg system"[^>]*data-id="2">.*?<\/article>/s.exec(html)?.[0];
    expect(article, html).toBeDefined();
    expect(article).toContain('<a class="reply" href="#m-1" data-reply-to="1">');
    expect(article).toContain('the plan');
    expect(html).toContain('id="m-1"');
  });
});

describe('what a run says it did', () => {
  let server: FixtureServer;
  const run = (args: string[]) => runCli(['dump', '--provider', 'relation', '--channel', 'S1', '--base-url', server.url, '--no-progress', '--rate', '1000', ...args], { env: box.env() });

  it('an archive run says new, changed and read; an incremental append says what it appended, or that nothing was new', async () => {
    server = await startFixtureServer({ channels: [{ provider: 'relation', id: 'S1', count: 80, seed: 5 }] });
    cleanups.push(() => server.close());
    const archive = join(box.dir, 'said.sqlite');
    const file = join(box.dir, 'said.jsonl');
    const first = await run(['-o', archive]);
    expect(first.code, explain(first)).toBe(0);
    expect(first.stderr).toContain(`relation channel S1: 80 new, 0 changed, 80 read → ${archive}, `);
    const appendFirst = await run(['--incremental', '-o', file]);
    expect(appendFirst.stderr).toContain(`relation channel S1: 80 messages → ${file} (`);

    server.insert('relation', 'S1', 5);
    const edited = server.messages('relation', 'S1')[10]!;
    server.edit('relation', 'S1', edited.id, `${edited.text} (edited)`);
    const second = await run(['-o', archive, '--full']);
    expect(second.code, explain(second)).toBe(0);
    expect(second.stderr).toContain(`relation channel S1: 5 new, 1 changed, 85 read → ${archive}, `);
    const appended = await run(['--incremental', '-o', file]);
    expect(appended.code, explain(appended)).toBe(0);
    expect(appended.stderr).toMatch(new RegExp(`relation channel S1: 5 new messages appended → ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(\\d`));

    const nothing = await run(['--incremental', '-o', file]);
    expect(nothing.code, explain(nothing)).toBe(0);
    expect(nothing.stderr).toContain(`relation channel S1: nothing new → ${file}, `);
    expect(nothing.stderr).not.toMatch(/0 messages|0 B/);
    const still = await run(['-o', archive]);
    expect(still.stderr).toMatch(/relation channel S1: 0 new, 0 changed, \d+ read → /);
  });
});
