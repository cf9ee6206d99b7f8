#!/usr/bin/env node
// The archive's figures: ingest speed into an archive against a JSONL dump of
// the same history, archive size per 100k messages, a rerun with nothing new,
// convert back out, and search timings (trigram index vs LIKE for short terms).
//
//   npm run build && node bench/archive.js [--count N] [--provider relation|discuz|dishawang]
//
// The fixture server runs in this process; the CLI in its own, as a user runs it.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { startFixtureServer } from '../fixtures/server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { count: { type: 'string' }, provider: { type: 'string' } } });
const count = Number(values.count ?? 100_000);
const provider = values.provider ?? 'relation';
const channel = provider === 'relation' ? 'bench-archive' : '99';

const work = mkdtempSync(join(tmpdir(), 'chat-export-bench-archive-'));
const config = join(work, 'config.json');
writeFileSync(config, '{}\n', { mode: 0o600 });
const server = await startFixtureServer({ channels: [{ provider, id: channel, count, perPage: 100 }] });

function cli(args) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'chat-export.js'), ...args], {
      env: { PATH: process.env.PATH, HOME: work, CHAT_EXPORT_CONFIG: config, CHAT_EXPORT_TOKEN: 'bench-token', CHAT_EXPORT_API_KEY: 'bench-key' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`chat-export ${args.join(' ')} exited ${code}: ${stderr}`));
      else resolve((performance.now() - started) / 1000);
    });
  });
}

const dumpArgs = ['dump', '--provider', provider, '--channel', channel, '--base-url', server.url, '--rate', '100000', '--page-size', '1000', '--no-progress', '-q'];
const size = (path) => (existsSync(path) ? statSync(path).size : 0);
const rows = [];
const say = (what, value) => {
  rows.push([what, value]);
  process.stdout.write(`${what}: ${value}\n`);
};

try {
  const jsonl = join(work, 'h.jsonl');
  const archive = join(work, 'h.sqlite');
  const tJsonl = await cli([...dumpArgs, '--order', 'desc', '-o', jsonl]);
  say(`dump -o h.jsonl --order desc (${count} ${provider} messages)`, `${tJsonl.toFixed(2)} s = ${Math.round(count / tJsonl)} msg/s, ${(size(jsonl) / 2 ** 20).toFixed(1)} MiB`);
  const tArchive = await cli([...dumpArgs, '-o', archive]);
  const bytes = size(archive) + size(`${archive}-wal`);
  say(`dump -o h.sqlite (same history)`, `${tArchive.toFixed(2)} s = ${Math.round(count / tArchive)} msg/s (${(tArchive / tJsonl).toFixed(2)}× the JSONL time)`);
  say('archive size', `${(bytes / 2 ** 20).toFixed(1)} MiB = ${((bytes / 2 ** 20) * (100_000 / count)).toFixed(1)} MiB per 100k messages (raw kept, FTS index included)`);
  const before = server.log.length;
  const tAgain = await cli([...dumpArgs, '-o', archive]);
  say('rerun, nothing new', `${tAgain.toFixed(2)} s, ${server.log.length - before} requests`);
  server.insert(provider, channel, 1000);
  const tNew = await cli([...dumpArgs, '-o', archive, '--lookback', '1h']);
  say('rerun, 1000 new, --lookback 1h', `${tNew.toFixed(2)} s`);
  const tConvert = await cli(['convert', archive, '-o', join(work, 'c.jsonl'), '--order', 'desc', '-q']);
  say('convert h.sqlite -o c.jsonl', `${tConvert.toFixed(2)} s = ${Math.round((count + 1000) / tConvert)} msg/s`);

  const { Archive } = await import('../dist/archive/store.js');
  const { search } = await import('../dist/archive/search.js');
  const db = Archive.open(archive, { create: false, readonly: true });
  const time = (query, limit) => {
    const started = performance.now();
    let hits = 0;
    for (const _ of search(db, query, { limit })) hits++;
    return `${(performance.now() - started).toFixed(1)} ms, ${hits} hits`;
  };
  for (const [query, how] of [
    ['今天开会', 'trigram index'],
    ['"send the report"', 'trigram index, phrase'],
    ['Friday', 'trigram index'],
    ['开会', 'LIKE scan (2 characters)'],
    ['处理', 'LIKE scan (2 characters)'],
    ['ok', 'LIKE scan (2 characters)'],
    ['开会 report', 'index narrows, then LIKE'],
    ['zzzz', 'trigram index, no hit'],
    ['zz', 'LIKE scan, no hit (whole table)'],
  ]) {
    say(`search ${query} (${how}) --limit 20`, time(query, 20));
    say(`search ${query} (${how}) every hit`, time(query, 10_000_000));
  }
  db.close();
} finally {
  await server.close();
  rmSync(work, { recursive: true, force: true });
}
