/**
 * The output side through the real CLI (DESIGN.md sections 2, 3 and 5):
 * hostile texts in CSV and Markdown, how `-o` picks a file, a directory and a
 * format, file names built from channel ids, atomic replacement (failed and
 * killed runs), devices and FIFOs, and `--order` on histories that spill to disk.
 */
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { parse } from 'csv-parse/sync';
import MarkdownIt from 'markdown-it';
import type Token from 'markdown-it/lib/token.mjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { HOSTILE_TEXTS } from '../../fixtures/history.js';
import {
  startFixtureServer,
  type ChannelSpec,
  type FixtureServer,
  type FixtureServerOptions,
  type Provider,
} from '../../fixtures/server.js';
import { BIN, createSandbox, run, runCli, type RunResult, type Sandbox } from '../helpers/cli.js';
import { truthIds } from '../helpers/ground-truth.js';
import type { ExportedMessage } from '../helpers/ground-truth.js';

const CSV_HEADER = ['id', 'timestamp', 'channel', 'provider', 'sender_id', 'sender_name', 'type', 'text', 'reply_to', 'edited_at', 'deleted', 'attachments'];

type Message = ExportedMessage;

// Enough messages that every HOSTILE_TEXTS entry (every 7th message) shows up; an hour apart, so several days.
const HOSTILE_COUNT = 7 * HOSTILE_TEXTS.length + 20;
const HOUR = 3_600_000;

const ESCAPING_IDS = ['../x', '/x', 'a/b', 'a%2Fb', '..', '.', '%2E%2E', '.hidden', 'x'.repeat(300), `${'x'.repeat(299)}y`, '频道 1'];

const CHANNELS: ChannelSpec[] = [
  { provider: 'relation', id: 'H1', count: HOSTILE_COUNT, hostile: true, stepMs: HOUR },
  { provider: 'dishawang', id: '77', count: HOSTILE_COUNT, hostile: true, stepMs: HOUR },
  { provider: 'discuz', id: '55', count: HOSTILE_COUNT, hostile: true, stepMs: HOUR },
  { provider: 'relation', id: 'C1', count: 45 },
  { provider: 'relation', id: 'C2', count: 30 },
  ...ESCAPING_IDS.map((id, k): ChannelSpec => ({ provider: 'relation', id, count: 3 + k })),
];

let sandbox: Sandbox;
const boxes: Sandbox[] = [];
const servers: FixtureServer[] = [];
let shared: FixtureServer;

beforeAll(async () => {
  sandbox = createSandbox();
  shared = await serve();
  return () => {
    sandbox.cleanup();
    for (const box of boxes) box.cleanup();
  };
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

async function serve(options: FixtureServerOptions = {}): Promise<FixtureServer> {
  const server = await startFixtureServer({ channels: CHANNELS, ...options });
  servers.push(server);
  return server;
}

/** A clean environment of its own for each run (own config, state and TMPDIR). */
function cleanEnv(): NodeJS.ProcessEnv {
  const box = createSandbox();
  boxes.push(box);
  return box.env();
}

/** A fresh directory for one test's output files. */
function outDir(name: string): string {
  const dir = join(sandbox.dir, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function dumpArgs(server: FixtureServer, args: string[]): string[] {
  const rate = args.includes('--rate') ? [] : ['--rate', '1000'];
  return ['dump', '--base-url', server.url, '--no-progress', ...rate, ...args];
}

function dump(server: FixtureServer, args: string[], timeoutMs = 30_000): Promise<RunResult> {
  return runCli(dumpArgs(server, args), { env: cleanEnv(), timeoutMs });
}

function explain(result: RunResult): string {
  return `exit ${result.code} ${result.signal ?? ''}\n--- stderr\n${result.stderr}`;
}

function jsonl(text: string): Message[] {
  expect(text === '' || text.endsWith('\n')).toBe(true);
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Message);
}

function ids(text: string): string[] {
  return jsonl(text).map((m) => m.id);
}

/** The formula guard of DESIGN.md section 3, written independently of src/. */
function guarded(cell: string): string {
  return /^[=+\-@\t\r]/.test(cell) ? `'${cell}` : cell;
}

function parseCsv(text: string): string[][] {
  return parse(text, { relax_column_count: false }) as string[][];
}

function tempsOf(dir: string): string[] {
  return readdirSync(dir).filter((name) => /^\..*\.tmp$/.test(name));
}

// ---------------------------------------------------------------------------

const hostileExports = new Map<string, Promise<Message[]>>();

/** The JSONL export of a hostile channel through the CLI (once per channel, shared by the CSV and Markdown tests). */
function hostileJsonl(provider: Provider, channel: string): Promise<Message[]> {
  const key = `${provider}/${channel}`;
  let promise = hostileExports.get(key);
  if (!promise) {
    const target = join(outDir(`hostile-jsonl-${provider}`), 'out.jsonl');
    promise = dump(shared, ['--provider', provider, '--channel', channel, '-o', target]).then((result) => {
      expect(result.code, explain(result)).toBe(0);
      expect(result.stdout).toBe('');
      return jsonl(readFileSync(target, 'utf8'));
    });
    hostileExports.set(key, promise);
  }
  return promise;
}

describe.concurrent('hostile texts: CSV read back equals the JSONL export', () => {
  it.each<[Provider, string]>([
    ['relation', 'H1'],
    ['dishawang', '77'],
    ['discuz', '55'],
  ])('%s channel %s: field by field, text exact but for the formula guard', async (provider, channel) => {
    const dir = outDir(`hostile-csv-${provider}`);
    const [messages, asCsv] = await Promise.all([
      hostileJsonl(provider, channel),
      dump(shared, ['--provider', provider, '--channel', channel, '-o', join(dir, 'out.csv')]),
    ]);
    expect(asCsv.code, explain(asCsv)).toBe(0);
    const csvText = readFileSync(join(dir, 'out.csv'), 'utf8');

    // JSONL keeps every text exactly as the server sent it, hostile ones included.
    const truth = shared.messages(provider, channel).reverse();
    expect(messages.map((m) => m.id)).toEqual(truth.map((m) => m.id));
    expect(messages.map((m) => m.text)).toEqual(truth.map((m) => m.text));
    for (const hostile of HOSTILE_TEXTS) expect(messages.some((m) => m.text === hostile), JSON.stringify(hostile)).toBe(true);

    expect(csvText.charCodeAt(0)).not.toBe(0xfeff);
    expect(csvText.startsWith(`${CSV_HEADER.join(',')}\r\n`)).toBe(true);
    const [header, ...rows] = parseCsv(csvText);
    expect(header).toEqual(CSV_HEADER);
    expect(rows).toHaveLength(messages.length);
    let guardedCells = 0;
    rows.forEach((row, k) => {
      const m = messages[k]!;
      const expected = [
        m.id,
        m.timestamp,
        m.channel,
        m.provider,
        m.sender.id,
        m.sender.name ?? '',
        m.type,
        m.text,
        m.replyTo ?? '',
        m.editedAt ?? '',
        String(m.deleted),
        m.attachments.length > 0 ? JSON.stringify(m.attachments) : '',
      ].map(guarded);
      expect(row, `row ${k + 1} (id ${m.id}, text ${JSON.stringify(m.text)})`).toEqual(expected);
      // the text column is the JSONL text exactly, once a guard prefix is taken off
      const text = row[7]!;
      if (text !== m.text) {
        guardedCells++;
        expect(text).toBe(`'${m.text}`);
        expect(m.text).toMatch(/^[=+\-@\t\r]/);
      }
    });
    // "=cmd…", "+1", "-1", "@SUM(A1)", "\tx", "\rx" at least once each
    expect(guardedCells).toBeGreaterThanOrEqual(6);
    for (const sample of ['你好，世界', '👍🏽', 'line1\nline2', 'line1\r\nline2', '"quoted, with comma"', 'a\u0000b']) {
      expect(rows.some((row) => row[7] === sample), JSON.stringify(sample)).toBe(true);
    }
  });
});

describe.concurrent('hostile texts: the Markdown transcript', () => {
  const md = new MarkdownIt({ html: true });

  function textOf(inline: Token): string {
    return (inline.children ?? []).map((child) => (child.type === 'text' || child.type === 'text_special' ? child.content : '')).join('');
  }

  function walk(tokens: Token[], visit: (token: Token) => void): void {
    for (const token of tokens) {
      visit(token);
      if (token.children) walk(token.children, visit);
    }
  }

  it.each<[Provider, string]>([
    ['relation', 'H1'],
    ['dishawang', '77'],
    ['discuz', '55'],
  ])('%s channel %s: one h1, a h2 per day, one head per message, nothing else', async (provider, channel) => {
    const dir = outDir(`hostile-md-${provider}`);
    const [messages, asMd] = await Promise.all([
      hostileJsonl(provider, channel),
      dump(shared, ['--provider', provider, '--channel', channel, '-o', join(dir, 'out.md')]),
    ]);
    expect(asMd.code, explain(asMd)).toBe(0);
    const source = readFileSync(join(dir, 'out.md'), 'utf8');
    const tokens = md.parse(source, {});

    const headings = tokens.filter((t) => t.type === 'heading_open');
    expect(headings.map((t) => t.tag)[0]).toBe('h1');
    expect(headings.filter((t) => t.tag === 'h1')).toHaveLength(1);
    expect(headings.every((t) => t.tag === 'h1' || t.tag === 'h2'), headings.map((t) => t.tag).join(' ')).toBe(true);

    // h2s: every day that has a message, once, in order, in the zone the title names
    // the text a reader sees (escapes resolved), not the source
    const inlineAfter = (open: Token) => textOf(tokens[tokens.indexOf(open) + 1]!);
    const title = inlineAfter(headings[0]!);
    expect(title).toContain(`${provider} · ${channel}`);
    expect(title).toContain(`${messages.length} messages`);
    const zone = /\(times in UTC([+-]\d\d):(\d\d)\)$|\(times in (UTC)\)$/.exec(title);
    expect(zone, title).not.toBeNull();
    const offsetMs = zone![3] ? 0 : Math.sign(Number(zone![1])) * (Math.abs(Number(zone![1])) * 60 + Number(zone![2])) * 60_000;
    const days = [...new Set(messages.map((m) => new Date(Date.parse(m.timestamp) + offsetMs).toISOString().slice(0, 10)))];
    const h2 = headings.filter((t) => t.tag === 'h2').map(inlineAfter);
    expect(days.length).toBeGreaterThan(5);
    expect(h2).toEqual(days);

    // every message is a paragraph of its own that starts with **name** · HH:MM
    const heads = tokens.filter((t, k) => {
      if (t.type !== 'inline' || tokens[k - 1]?.type !== 'paragraph_open') return false;
      // markdown-it may open a paragraph with an empty text token
      const children = (t.children ?? []).filter((child) => !(child.type === 'text' && child.content === ''));
      const close = children.findIndex((child) => child.type === 'strong_close');
      if (children[0]?.type === 'strong_open') return close > 1 && /^ · \d\d:\d\d/.test(children[close + 1]?.content ?? '');
      // a system message with no sender name shows no sender
      return children[0]?.type === 'em_open' && children[1]?.content === 'system' && /^ · \d\d:\d\d/.test(children[3]?.content ?? '');
    });
    expect(heads).toHaveLength(messages.length);

    const types = new Set<string>();
    const links: string[] = [];
    walk(tokens, (token) => {
      types.add(token.type);
      if (token.type === 'link_open') links.push(token.attrGet('href') ?? '');
    });
    for (const forbidden of ['html_block', 'html_inline', 'table_open', 'fence', 'code_block', 'code_inline', 'hr', 'bullet_list_open', 'ordered_list_open', 'lheading_open']) {
      expect(types.has(forbidden), forbidden).toBe(false);
    }
    // images: only image messages whose text is a plain http(s) URL, showing exactly that URL
    const images: string[] = [];
    walk(tokens, (token) => {
      if (token.type === 'image') images.push(token.attrGet('src') ?? '');
    });
    const imageMessages = messages.filter((m) => m.type === 'image' && /^https?:\/\/[^\s<>\\]+$/i.test(m.text.trim()));
    expect(images).toEqual(imageMessages.map((m) => md.normalizeLink(m.text.trim())));
    // blockquotes are reply markers only
    expect(tokens.filter((t) => t.type === 'blockquote_open')).toHaveLength(messages.filter((m) => m.replyTo !== null).length);
    // the only links are the attachments' (discuz has some; the others none)
    const attachments = messages.flatMap((m) => m.attachments.map((a) => a.url));
    expect(links).toEqual(attachments);
    if (provider === 'discuz') expect(attachments.length).toBeGreaterThan(0);

    expect(source).toContain('你好，世界');
    expect(source).toContain('👍🏽');
    expect(source).not.toContain('\u001b');
    expect(source).not.toContain('\u0000');
  });
});

// ---------------------------------------------------------------------------

describe.concurrent('output targets', () => {
  it('-o FILE picks the format from the extension; --format overrides it', async () => {
    const dir = outDir('targets-ext');
    const base = ['--provider', 'relation', '--channel', 'C1'];
    const results = await Promise.all([
      dump(shared, [...base, '-o', join(dir, 'a.csv')]),
      dump(shared, [...base, '-o', join(dir, 'b.md')]),
      dump(shared, [...base, '-o', join(dir, 'c.jsonl')]),
      dump(shared, [...base, '-o', join(dir, 'd.txt')]),
      dump(shared, [...base, '-o', join(dir, 'e.csv'), '--format', 'jsonl']),
      dump(shared, [...base, '-o', join(dir, 'f.jsonl'), '--format', 'md']),
      dump(shared, [...base, '-o', join(dir, 'g.CSV')]),
    ]);
    for (const result of results) {
      expect(result.code, explain(result)).toBe(0);
      expect(result.stdout).toBe('');
    }
    const truth = truthIds(shared, 'relation', 'C1');
    const read = (name: string) => readFileSync(join(dir, name), 'utf8');
    const [header, ...rows] = parseCsv(read('a.csv'));
    expect(header).toEqual(CSV_HEADER);
    expect(rows.map((row) => row[0])).toEqual(truth);
    expect(read('b.md')).toMatch(/^# relation · C1 — 45 messages/);
    expect(ids(read('c.jsonl'))).toEqual(truth);
    expect(ids(read('d.txt'))).toEqual(truth); // unknown extension: jsonl
    expect(ids(read('e.csv'))).toEqual(truth);
    expect(read('f.jsonl')).toMatch(/^# relation · C1 — 45 messages/);
    expect(parseCsv(read('g.CSV'))[0]).toEqual(CSV_HEADER);
    expect(readdirSync(dir).sort()).toEqual(['a.csv', 'b.md', 'c.jsonl', 'd.txt', 'e.csv', 'f.jsonl', 'g.CSV']);
  });

  it('convert - reads a JSONL export on stdin and says how many messages went where; -q says nothing', async () => {
    const dir = outDir('convert-stdin');
    const base = ['--provider', 'relation', '--channel', 'C1'];
    const [jsonlOut, csvOut] = await Promise.all([dump(shared, [...base, '-o', '-']), dump(shared, [...base, '-o', join(dir, 'direct.csv')])]);
    expect(jsonlOut.code, explain(jsonlOut)).toBe(0);
    expect(csvOut.code, explain(csvOut)).toBe(0);
    const target = join(dir, 'piped.csv');
    const converted = await runCli(['convert', '-', '-o', target], { env: cleanEnv(), stdin: jsonlOut.stdout });
    expect(converted.code, explain(converted)).toBe(0);
    expect(readFileSync(target, 'utf8')).toBe(readFileSync(join(dir, 'direct.csv'), 'utf8'));
    expect(converted.stderr).toBe(`chat-export: 45 messages → ${target}\n`);
    const quiet = await runCli(['convert', '-', '-o', join(dir, 'quiet.csv'), '-q'], { env: cleanEnv(), stdin: jsonlOut.stdout });
    expect(quiet.code, explain(quiet)).toBe(0);
    expect(quiet.stderr).toBe('');
    const bad = await runCli(['convert', '-', '-o', join(dir, 'bad.csv')], { env: cleanEnv(), stdin: '{"x":1}\n' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/stdin line 1 is not a chat-export message/);
  });

  it('--limit N: the HTML header and the Markdown title state the span of the N messages kept, not of the page read', async () => {
    const dir = outDir('limit-span');
    const base = ['--provider', 'relation', '--channel', 'H1', '--limit', '3'];
    const [kept, csv, html, htmlDesc, md] = await Promise.all([
      dump(shared, [...base, '-o', join(dir, 'kept.jsonl')]),
      dump(shared, [...base, '-o', join(dir, 'kept.csv')]),
      dump(shared, [...base, '-o', join(dir, 'a.html')]),
      dump(shared, [...base, '--order', 'desc', '-o', join(dir, 'd.html')]),
      dump(shared, [...base, '-o', join(dir, 'a.md')]),
    ]);
    for (const result of [kept, csv, html, htmlDesc, md]) expect(result.code, explain(result)).toBe(0);
    const times = jsonl(readFileSync(join(dir, 'kept.jsonl'), 'utf8')).map((m) => m.timestamp);
    expect(parseCsv(readFileSync(join(dir, 'kept.csv'), 'utf8')).slice(1).map((row) => row[1])).toEqual(times);
    expect(times).toHaveLength(3);
    const span = `<time datetime="${times[0]}">`;
    for (const name of ['a.html', 'd.html']) {
      const sub = /<p class="sub">(.*?)<\/p>/.exec(readFileSync(join(dir, name), 'utf8'))?.[1] ?? '';
      expect(sub).toContain('3 messages');
      expect(sub).toContain(span);
      expect(sub).toContain(`<time datetime="${times[2]}">`);
    }
    // the history spans days; the three newest messages one day (an hour apart, counted from the day's start)
    const days = new Set(times.map((t) => t!.slice(0, 10)));
    const title = readFileSync(join(dir, 'a.md'), 'utf8').split('\n')[0]!;
    expect(title).toMatch(/— 3 messages, /);
    expect(new Set(title.match(/\d{4}-\d\d-\d\d/g))).toEqual(days);
    const all = truthIds(shared, 'relation', 'H1').length;
    expect(all).toBeGreaterThan(24);
  });

  it('-o dir/ (not there yet) and an existing dir get {provider}-{channel}.{ext} per channel', async () => {
    const root = outDir('targets-dir');
    const fresh = join(root, 'new', 'nested');
    const existing = outDir('targets-dir/existing');
    const [a, b, c] = await Promise.all([
      dump(shared, ['--provider', 'relation', '--channel', 'C1', '--channel', 'C2', '-o', `${fresh}/`]),
      dump(shared, ['--provider', 'relation', '--channel', 'C1', '--channel', 'C2', '-o', existing, '--format', 'csv']),
      dump(shared, ['--provider', 'dishawang', '--channel', '77', '-o', `${existing}/`, '--format', 'md']),
    ]);
    for (const result of [a, b, c]) {
      expect(result.code, explain(result)).toBe(0);
      expect(result.stdout).toBe('');
    }
    expect(readdirSync(fresh).sort()).toEqual(['relation-C1.jsonl', 'relation-C2.jsonl']);
    expect(ids(readFileSync(join(fresh, 'relation-C1.jsonl'), 'utf8'))).toEqual(truthIds(shared, 'relation', 'C1'));
    expect(ids(readFileSync(join(fresh, 'relation-C2.jsonl'), 'utf8'))).toEqual(truthIds(shared, 'relation', 'C2'));
    expect(readdirSync(existing).sort()).toEqual(['dishawang-77.md', 'relation-C1.csv', 'relation-C2.csv']);
    const rows = parseCsv(readFileSync(join(existing, 'relation-C2.csv'), 'utf8'));
    expect(rows[0]).toEqual(CSV_HEADER);
    expect(rows.slice(1).map((row) => row[0])).toEqual(truthIds(shared, 'relation', 'C2'));
    expect(readFileSync(join(existing, 'dishawang-77.md'), 'utf8')).toMatch(/^# dishawang · 77 — /);
  });

  it('channel ids that try to escape stay inside the directory, one distinct file each', async () => {
    const root = outDir('targets-escape');
    const out = join(root, 'a', 'out');
    mkdirSync(out, { recursive: true });
    const args = ['--provider', 'relation', ...ESCAPING_IDS.flatMap((id) => ['--channel', id]), '-o', `${out}/`];
    const result = await dump(shared, args);
    expect(result.code, explain(result)).toBe(0);

    // nothing anywhere under the sandbox root but the files in out/
    const everything: string[] = [];
    const list = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) list(path);
        else everything.push(relative(root, path));
      }
    };
    list(root);
    expect(everything.every((path) => path.startsWith(join('a', 'out') + '/') && !path.slice(6).includes('/')), everything.join('\n')).toBe(true);
    expect(everything).toHaveLength(ESCAPING_IDS.length);
    // and nothing next to the sandbox either
    expect(existsSync(join(root, 'a', 'x'))).toBe(false);
    expect(existsSync(join(root, 'x'))).toBe(false);

    // each file holds its own channel, all of it
    const names = readdirSync(out);
    const seen = new Map<string, string>();
    for (const name of names) {
      expect(name.startsWith('relation-'), name).toBe(true);
      expect(name.endsWith('.jsonl'), name).toBe(true);
      expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
      expect(name.startsWith('.')).toBe(false);
      const messages = jsonl(readFileSync(join(out, name), 'utf8'));
      const channels = new Set(messages.map((m) => m.channel));
      expect(channels.size, name).toBe(1);
      const channel = [...channels][0]!;
      expect(seen.has(channel), `${channel} written twice`).toBe(false);
      seen.set(channel, name);
      expect(messages.map((m) => m.id)).toEqual(truthIds(shared, 'relation', channel));
    }
    expect([...seen.keys()].sort()).toEqual([...ESCAPING_IDS].sort());
  });
});

// ---------------------------------------------------------------------------

describe.concurrent('atomic output', () => {
  const GOOD = Buffer.from('GOOD OLD BACKUP\r\n\u00ff\u0000 not text at all\n', 'latin1');

  it('a run that fails after retries (exit 4) leaves an existing file byte-identical and no temp file', async () => {
    const server = await serve({ faults: [{ provider: 'relation', channel: 'C1', nth: 2, times: 1000, kind: 'status', status: 500 }] });
    const dir = outDir('atomic-500');
    writeFileSync(join(dir, 'backup.csv'), GOOD);
    writeFileSync(join(dir, 'relation-C1.md'), GOOD);
    const before = readdirSync(dir).sort();
    const [file, directory] = await Promise.all([
      dump(server, ['--provider', 'relation', '--channel', 'C1', '--page-size', '10', '--retries', '2', '-o', join(dir, 'backup.csv')]),
      dump(server, ['--provider', 'relation', '--channel', 'C1', '--page-size', '10', '--retries', '2', '-o', `${dir}/`, '--format', 'md']),
    ]);
    for (const result of [file, directory]) {
      expect(result.code, explain(result)).toBe(4);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/HTTP 500/);
    }
    expect(readFileSync(join(dir, 'backup.csv')).equals(GOOD)).toBe(true);
    expect(readFileSync(join(dir, 'relation-C1.md')).equals(GOOD)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(before);
  });

  it('SIGKILL mid-export leaves the old file intact; the next run replaces it and removes the dead run\'s temp file', async () => {
    // C1 is quick, C2 slow: while C2 is walked, C1 is already in the temp file beside the target.
    const server = await serve({ faults: [{ provider: 'relation', channel: 'C2', kind: 'delay', ms: 400 }] });
    const dir = outDir('atomic-kill');
    const target = join(dir, 'backup.jsonl');
    writeFileSync(target, GOOD);
    // a temp file of a live process (this one) is not the next run's to remove
    const live = `.backup.jsonl.${process.pid}.0badf00d.tmp`;
    writeFileSync(join(dir, live), 'in use');

    const child = spawn(process.execPath, [BIN, ...dumpArgs(server, ['--provider', 'relation', '--channel', 'C1', '--channel', 'C2', '--page-size', '5', '-o', target])], {
      env: cleanEnv(),
      stdio: 'ignore',
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    const deadline = Date.now() + 15_000;
    let stale: string[] = [];
    while (Date.now() < deadline) {
      stale = tempsOf(dir).filter((name) => name !== live);
      if (stale.length > 0 && server.log.some((entry) => entry.channel === 'C2' && entry.end !== undefined)) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(stale, 'the run never opened its temp file').toHaveLength(1);
    expect(stale[0]).toMatch(new RegExp(`^\\.backup\\.jsonl\\.${child.pid}\\.[0-9a-f]+\\.tmp$`));
    // it is really mid-export: C2 is not done
    expect(server.log.filter((entry) => entry.channel === 'C2').length).toBeLessThan(7);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    expect(readFileSync(target).equals(GOOD)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual([...stale, live, 'backup.jsonl'].sort());

    server.clearFaults();
    const again = await dump(server, ['--provider', 'relation', '--channel', 'C1', '--channel', 'C2', '--page-size', '50', '-o', target]);
    expect(again.code, explain(again)).toBe(0);
    expect(ids(readFileSync(target, 'utf8'))).toEqual([...truthIds(server, 'relation', 'C1'), ...truthIds(server, 'relation', 'C2')]);
    expect(readdirSync(dir).sort()).toEqual([live, 'backup.jsonl'].sort());
  });

  // KNOWN BUG (src/commands/dump.ts, the one-stream branch: `if (succeeded > 0) await handle.commit()`):
  // an interrupted run renames the temp file holding only the channels finished so far over the
  // earlier complete backup. Remove `.fails` once dump.ts aborts the handle when interrupted.
  it('SIGINT mid-export (several channels, one file) leaves the old file intact and no temp file', async () => {
    const server = await serve({ faults: [{ provider: 'relation', channel: 'C2', kind: 'delay', ms: 400 }] });
    const dir = outDir('atomic-sigint');
    const target = join(dir, 'backup.jsonl');
    writeFileSync(target, GOOD);
    const child = spawn(process.execPath, [BIN, ...dumpArgs(server, ['--provider', 'relation', '--channel', 'C1', '--channel', 'C2', '--page-size', '5', '-o', target])], {
      env: cleanEnv(),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && tempsOf(dir).length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(tempsOf(dir), 'the run never opened its temp file').toHaveLength(1);
    child.kill('SIGINT');
    const code = await exited;
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/interrupted/);
    expect(readFileSync(target).equals(GOOD), 'the earlier backup was replaced').toBe(true);
    expect(readdirSync(dir)).toEqual(['backup.jsonl']);
  });

  it('SIGKILL before anything is written leaves no partial at the target path, in a directory either', async () => {
    const server = await serve({ latencyMs: 150 });
    const dir = outDir('atomic-kill-early');
    writeFileSync(join(dir, 'relation-C1.csv'), GOOD);
    const child = spawn(process.execPath, [BIN, ...dumpArgs(server, ['--provider', 'relation', '--channel', 'C1', '--channel', 'C2', '--page-size', '5', '-o', `${dir}/`, '--format', 'csv'])], {
      env: cleanEnv(),
      stdio: 'ignore',
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && server.log.filter((entry) => entry.end !== undefined).length < 3) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(server.log.length).toBeGreaterThanOrEqual(3);
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(readdirSync(dir)).toEqual(['relation-C1.csv']);
    expect(readFileSync(join(dir, 'relation-C1.csv')).equals(GOOD)).toBe(true);
  });

  it('-o /dev/null works and /dev/null stays a character device', async () => {
    const result = await dump(shared, ['--provider', 'relation', '--channel', 'C1', '-o', '/dev/null']);
    expect(result.code, explain(result)).toBe(0);
    expect(result.stdout).toBe('');
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
    expect(readdirSync('/dev').filter((name) => name.startsWith('.null.'))).toEqual([]);
  });

  it('-o FIFO is written directly (a reader gets every line) and stays a FIFO', async () => {
    const dir = outDir('fifo');
    const fifo = join(dir, 'pipe.csv');
    const made = await run('mkfifo', [fifo]);
    expect(made.code, made.stderr).toBe(0);
    const reader = run('cat', [fifo], { timeoutMs: 20_000 });
    const result = await dump(shared, ['--provider', 'relation', '--channel', 'C1', '-o', fifo], 20_000);
    const read = await reader;
    expect(result.code, explain(result)).toBe(0);
    expect(read.code).toBe(0);
    const [header, ...rows] = parseCsv(read.stdout);
    expect(header).toEqual(CSV_HEADER);
    expect(rows.map((row) => row[0])).toEqual(truthIds(shared, 'relation', 'C1'));
    expect(statSync(fifo).isFIFO()).toBe(true);
    expect(readdirSync(dir)).toEqual(['pipe.csv']);
  });
});

// ---------------------------------------------------------------------------

// Several times the 2,000 messages a channel keeps in memory before its sorted runs spill to disk.
const BIG = 9_000;
const BIG_CHANNELS: ChannelSpec[] = [
  { provider: 'relation', id: 'BIG', count: BIG, stepMs: 7_000 },
  { provider: 'discuz', id: '9', count: BIG, pageCap: 1000, stepMs: 7_000 },
  { provider: 'dishawang', id: '8', count: BIG, perPage: 1000, stepMs: 7_000 },
];

/** The message order of an export: ids, or for Markdown the "#N" its generated texts end in (escaped "\\#N"). */
function orderOf(format: 'jsonl' | 'csv' | 'md', text: string): string[] {
  if (format === 'jsonl') return ids(text);
  if (format === 'csv') return parseCsv(text).slice(1).map((row) => row[0]!);
  // "#N" at the end of a text is not markup there, so it is written as it is (no "\#");
  // a reply's quote line ends with the start of the quoted text: only message bodies count.
  return [...text.matchAll(/^(?!> ).*#(\d+)(?:\\)?$/gm)].map((match) => match[1]!);
}

// One provider at a time (asc and desc side by side): these 18 exports are the bulk of this file.
describe('--order at scale (spilled to disk)', () => {
  let big: FixtureServer;
  beforeAll(async () => {
    big = await startFixtureServer({ channels: BIG_CHANNELS });
    servers.push(big);
  });

  it.each<[Provider, string]>([
    ['relation', 'BIG'],
    ['discuz', '9'],
    ['dishawang', '8'],
  ])('%s: asc and desc are exact reverses in jsonl, csv and md', async (provider, channel) => {
    const dir = outDir(`order-${provider}`);
    const formats = ['jsonl', 'csv', 'md'] as const;
    const truth = truthIds(big, provider, channel);
    expect(truth).toHaveLength(BIG);
    // Markdown has no ids: its order is that of the generated "#N" text endings
    let numbered: string[] = [];
    for (const format of formats) {
      const runs = await Promise.all(
        (['asc', 'desc'] as const).map((order) =>
          dump(big, ['--provider', provider, '--channel', channel, '--page-size', '1000', '--rate', '10000', '--order', order, '-o', join(dir, `${order}.${format}`)], 60_000),
        ),
      );
      for (const result of runs) expect(result.code, explain(result)).toBe(0);
      const asc = orderOf(format, readFileSync(join(dir, `asc.${format}`), 'utf8'));
      const desc = orderOf(format, readFileSync(join(dir, `desc.${format}`), 'utf8'));
      if (format !== 'md') {
        expect(asc, format).toHaveLength(BIG);
        expect(new Set(asc).size, format).toBe(BIG);
      }
      expect(desc, format).toEqual([...asc].reverse());
      if (format === 'jsonl') {
        expect(asc).toEqual(truth);
        numbered = jsonl(readFileSync(join(dir, 'asc.jsonl'), 'utf8')).flatMap((m) => /#(\d+)$/.exec(m.text)?.[1] ?? []);
        expect(numbered.length).toBeGreaterThan(BIG * 0.9);
      }
      if (format === 'md') expect(asc).toEqual(numbered);
    }
  });
});
