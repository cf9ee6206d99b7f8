/**
 * `search` at the edges of what a user can type: a thousand short words, a
 * megabyte of query, a --limit far above the hits. The archive is made by
 * `convert` from a JSONL the test writes, so the hits are known exactly.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { BIN, createSandbox, run, runCli, type RunResult, type Sandbox } from '../helpers/cli.js';

const box: Sandbox = createSandbox();
afterAll(() => box.cleanup());

const COUNT = 100_000;
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
/** ~1,000 distinct words of one or two characters */
const SHORT_WORDS = [
  ...LETTERS,
  ...DIGITS,
  ...[...LETTERS].flatMap((a) => [...LETTERS].map((b) => a + b)),
  ...[...DIGITS].flatMap((a) => [...DIGITS].map((b) => a + b)),
  ...[...LETTERS].flatMap((a) => [...DIGITS].map((b) => a + b)),
].slice(0, 1_000);
/** the one message holding every one of them */
const HOLDER = '4242';
let archive = '';

function explain(result: Pick<RunResult, 'code' | 'stderr'>): string {
  return `exit ${result.code}\n--- stderr\n${result.stderr.slice(0, 2000)}`;
}

beforeAll(async () => {
  const jsonl = join(box.dir, 'history.jsonl');
  const lines: string[] = [];
  for (let i = 1; i <= COUNT; i++) {
    const text = String(i) === HOLDER ? SHORT_WORDS.join(' ') : `common message number ${i}`;
    lines.push(
      JSON.stringify({
        id: String(i),
        provider: 'relation',
        channel: 'C1',
        timestamp: new Date(1_700_000_000_000 + i * 1000).toISOString(),
        sender: { id: 'u', name: 'Sender', avatar: null },
        type: 'text',
        text,
        replyTo: null,
        editedAt: null,
        deleted: false,
        attachments: [],
      }),
    );
  }
  writeFileSync(jsonl, `${lines.join('\n')}\n`);
  archive = join(box.dir, 'a.sqlite');
  const made = await runCli(['convert', jsonl, '-o', archive], { env: box.env(), timeoutMs: 120_000 });
  expect(made.code, explain(made)).toBe(0);
}, 180_000);

describe('search at the edges', () => {
  it('a query of 1,000 one- and two-character words finds exactly the message holding them all', async () => {
    const result = await runCli(['search', archive, ...SHORT_WORDS, '--json'], { env: box.env() });
    expect(result.code, explain(result)).toBe(0);
    expect(result.stdout.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { id: string }).id)).toEqual([HOLDER]);
    // and with one word no message holds, nothing
    const none = await runCli(['search', archive, ...SHORT_WORDS.slice(0, 999), 'zz9', '--json'], { env: box.env() });
    expect(none.code, explain(none)).toBe(0);
    expect(none.stdout).toBe('');
  });

  it('a megabyte query that matches nothing is not echoed back whole', async () => {
    // as `search a.sqlite $(cat big.txt)` passes it: a thousand words of a thousand characters
    const words = Array.from({ length: 1000 }, () => 'q'.repeat(1000));
    const result = await runCli(['search', archive, ...words], { env: box.env() });
    expect(result.code, explain(result)).toBe(0);
    expect(result.stdout).toBe('');
    const lines = result.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/no message in .* matches "q+…"/);
    expect(lines[0]!.length).toBeLessThan(400);
  });

  it('--limit 1000000 over 100,000 hits streams them: every hit printed, newest first, within a heap far smaller than the hits', async () => {
    // 100,000 hits held at once take well over 64 MiB of heap; streamed, a few rows are alive at a time
    const result = await run(process.execPath, ['--max-old-space-size=64', BIN, 'search', archive, 'common', '--json', '--limit', '1000000'], {
      env: box.env(),
      timeoutMs: 120_000,
    });
    expect(result.code, explain(result)).toBe(0);
    const ids = result.stdout.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { id: string }).id);
    expect(ids).toHaveLength(COUNT - 1);
    expect(ids[0]).toBe(String(COUNT));
    expect(ids.at(-1)).toBe('1');
  });
});
