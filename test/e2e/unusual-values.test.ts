/**
 * Valid answers with unusual values, through the real CLI against scripted
 * servers: sender ids beyond 2^53 at every depth of a quote chain, MySQL's
 * zero date, a field nested deeper than V8's stack. Each is exported exactly
 * or, where no output can hold it, named by id and counted missing (exit 5)
 * while the rest of the channel is written.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { createSandbox, runCli, type RunResult, type Sandbox } from '../helpers/cli.js';
import { scriptedServer, type Cleanup } from '../helpers/servers.js';

const cleanups: Cleanup[] = [];
const boxes: Sandbox[] = [];
afterAll(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
  for (const box of boxes) box.cleanup();
});

function sandbox(): Sandbox {
  const box = createSandbox();
  boxes.push(box);
  return box;
}

function explain(result: Pick<RunResult, 'code' | 'stderr'>): string {
  return `exit ${result.code}\n--- stderr\n${result.stderr}`;
}

const FAST = ['--no-progress', '--rate', '1000', '--retries', '1'];

interface Exported {
  id: string;
  sender: { id: string };
  replyTo: string | null;
  editedAt: string | null;
  raw?: unknown;
}

function lines(text: string): Exported[] {
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Exported);
}

/**
 * A relation server over `items` (JSON text per message, newest first by createAt), honouring
 * maxCreateAt (inclusive) and limit as the API does.
 */
async function relationServer(items: Array<{ at: number; json: string }>) {
  return scriptedServer(cleanups, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const max = Number(url.searchParams.get('maxCreateAt'));
    const limit = Number(url.searchParams.get('limit'));
    const page = items.filter((item) => item.at <= max).slice(0, limit);
    res.writeHead(200, { 'content-type': 'application/json' }).end(`{"code":"0","desc":"success","data":[${page.map((p) => p.json).join(',')}]}`);
  });
}

describe('relation senders sent as JSON numbers beyond 2^53, with quotes that carry their own', () => {
  // 2^53 = 9007199254740992: every one of these rounds to a neighbour in a double
  const senderOf = (k: number) => `90071992547${41000 + k}`;
  // message ids too, as numbers: a quote names its original by one
  const idOf = (k: number) => `90071992548${50000 + k}`;
  const quoteChain = (k: number, depth: number): string => {
    let quote = 'null';
    for (let d = depth; d >= 1; d--) {
      const id = Math.max(1, k - d);
      quote = `{"id":${idOf(id)},"createAt":"${1_714_000_000_000 + id * 1000}","type":"TEXT","from":${senderOf(id)}${d},"fromName":"q","content":"quoted","quote":${quote}}`;
    }
    return quote;
  };
  // 120 messages over three pages; quotes nested 0 to 40 deep, the deepest as long as real reply chains get
  const items = Array.from({ length: 120 }, (_, i) => {
    const k = 120 - i;
    const at = 1_714_000_000_000 + k * 1000;
    const depth = k % 5 === 0 ? 40 : k % 3;
    return {
      at,
      json: `{"id":${idOf(k)},"sendUuid":"u${k}","channelUuid":"C1","createAt":"${at}","type":"TEXT","from":${senderOf(k)},"fromName":"user ${k}","fromAvatar":null,"content":"m${k}","quote":${k > 1 ? quoteChain(k, depth) : 'null'}}`,
    };
  });

  it.each([['jsonl'], ['sqlite']])('every sender id is exact in %s (and in the archive read back), every reply linked', async (format) => {
    const server = await relationServer(items);
    const box = sandbox();
    const out = join(box.dir, `out.${format}`);
    const result = await runCli(['dump', '--provider', 'relation', '--base-url', server.url, '--channel', 'C1', '--page-size', '50', '-o', out, ...FAST], {
      env: box.env(),
    });
    expect(result.code, explain(result)).toBe(0);
    const read = format === 'jsonl' ? { code: 0, stdout: readFileSync(out, 'utf8'), stderr: '' } : await runCli(['convert', out, '-o', '-'], { env: box.env() });
    expect(read.code, explain(read)).toBe(0);
    const messages = lines(read.stdout);
    expect(messages.map((m) => m.id)).toEqual(Array.from({ length: 120 }, (_, i) => idOf(i + 1)));
    expect(messages.map((m) => m.sender.id)).toEqual(Array.from({ length: 120 }, (_, i) => senderOf(i + 1)));
    // the nearest quote in each chain is the one replied to
    const depthOf = (k: number) => (k % 5 === 0 ? 40 : k % 3);
    expect(messages.map((m) => m.replyTo)).toEqual(
      Array.from({ length: 120 }, (_, i) => (i === 0 || depthOf(i + 1) === 0 ? null : idOf(Math.max(1, i)))),
    );
  });
});

describe("dishawang's MySQL zero date", () => {
  it('a create_time of "0000-00-00 00:00:00" is named by id and counted missing (exit 5); an update_time of it is no edit; the rest is exported', async () => {
    const all = Array.from({ length: 25 }, (_, i) => {
      const k = 25 - i;
      return {
        id: k,
        user_id: 7,
        is_revoke: 0,
        type: 'text',
        body: `b${k}`,
        create_time: k === 13 ? '0000-00-00 00:00:00' : `2024-01-24 01:${String(k).padStart(2, '0')}:00`,
        update_time: k === 5 ? '0000-00-00 00:00:00' : null,
        name: 'n',
        avatar: null,
      };
    });
    const server = await scriptedServer(cleanups, (req, res) => {
      const page = Number((req.url ?? '').split('/').pop());
      const data = all.slice((page - 1) * 10, page * 10);
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ code: 1, msg: 'ok', data: { total: 25, per_page: 10, current_page: page, last_page: 3, data } }));
    });
    const box = sandbox();
    for (const out of ['-', join(box.dir, 'a.sqlite')]) {
      const result = await runCli(['dump', '--provider', 'dishawang', '--base-url', server.url, '--channel', '26', '-o', out, ...FAST], { env: box.env() });
      expect(result.code, explain(result)).toBe(5);
      const named = result.stderr.split('\n').filter((line) => line.includes('message 13'));
      expect(named, result.stderr).toHaveLength(1);
      expect(named[0]).toContain('0000-00-00 00:00:00');
      expect(named[0]).toContain('1 message missing');
      const written = out === '-' ? result : await runCli(['convert', out, '-o', '-'], { env: box.env() });
      const messages = lines(written.stdout);
      expect(messages.map((m) => m.id)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12', '14', '15', '16', '17', '18', '19', '20', '21', '22', '23', '24', '25']);
      expect(messages.find((m) => m.id === '5')!.editedAt).toBeNull();
    }
  });
});

describe('a message with a field nested 8,000 deep', () => {
  const DEPTH = 8000;
  const deep = `${'{"a":'.repeat(DEPTH)}1${'}'.repeat(DEPTH)}`;
  const items = Array.from({ length: 20 }, (_, i) => {
    const k = 20 - i;
    const at = 1_714_000_000_000 + k * 1000;
    return {
      at,
      json: `{"id":"${k}","createAt":"${at}","type":"TEXT","from":"u${k}","fromName":"u${k}","fromAvatar":null,"content":"m${k}","extra":${k === 7 ? deep : 'null'},"quote":null}`,
    };
  });

  it('is archived (raw kept exactly), run after run, and read back; JSONL with --raw writes it too', async () => {
    const server = await relationServer(items);
    const box = sandbox();
    const archive = join(box.dir, 'a.sqlite');
    for (const extra of [[], ['--full']]) {
      const result = await runCli(['dump', '--provider', 'relation', '--base-url', server.url, '--channel', 'C1', '-o', archive, ...extra, ...FAST], {
        env: box.env(),
      });
      expect(result.code, explain(result)).toBe(0);
      expect(result.stderr).not.toMatch(/call stack/i);
    }
    const back = await runCli(['convert', archive, '--raw', '-o', '-'], { env: box.env() });
    expect(back.code, explain(back)).toBe(0);
    const jsonl = await runCli(['dump', '--provider', 'relation', '--base-url', server.url, '--channel', 'C1', '--raw', '-o', '-', ...FAST], { env: box.env() });
    expect(jsonl.code, explain(jsonl)).toBe(0);
    for (const text of [back.stdout, jsonl.stdout]) {
      const messages = lines(text);
      expect(messages.map((m) => m.id)).toEqual(Array.from({ length: 20 }, (_, i) => String(i + 1)));
      const line = text.split('\n').find((l) => l.startsWith('{"id":"7"'))!;
      // the raw object as the server sent it: the nested field byte for byte
      expect(line).toContain(`"extra":${deep},"quote":null}`);
    }
  });
});
