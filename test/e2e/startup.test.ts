/**
 * What a run loads before its first request is most of its start-up (the
 * latency figure of `npm run bench` waits for it on every run). A plain
 * export must not load the code of paths it does not take: undici's whole
 * index (and through it Node's own bundled undici for fetch), --adopt's CSV
 * reader, the archive. The timing itself belongs to the bench; this holds the
 * module graph that makes it. The paths taken lazily still work: the archive,
 * --adopt of a CSV file and Markdown are tested end to end elsewhere.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';

import { startFixtureServer, type FixtureServer } from '../../fixtures/server.js';
import { BIN, createSandbox, run, type Sandbox } from '../helpers/cli.js';

const CHANNEL = 'c0000000000000000000000000startup';

describe('start-up: what a plain export loads', () => {
  let server: FixtureServer;
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = createSandbox();
    server = await startFixtureServer({ channels: [{ provider: 'relation', id: CHANNEL, count: 120 }] });
  });
  afterAll(async () => {
    await server.close();
    sandbox.cleanup();
  });

  /** Runs the CLI with a loader hook listing every module it loads (ESM and CommonJS) and Node's internal ones. */
  async function loadedBy(args: string[]): Promise<{ code: number | null; stdout: string; modules: string[]; internal: string[] }> {
    const list = join(sandbox.dir, `modules-${Math.random().toString(36).slice(2)}.txt`);
    const hooks = `data:text/javascript,${encodeURIComponent(
      "import { appendFileSync } from 'node:fs'; let out; export function initialize(data) { out = data; } " +
        "export async function load(url, context, next) { appendFileSync(out, url + '\\n'); return next(url, context); }",
    )}`;
    const preload = join(sandbox.dir, 'preload.mjs');
    writeFileSync(
      preload,
      "import { register, createRequire } from 'node:module'; import { appendFileSync } from 'node:fs';\n" +
        `register(${JSON.stringify(hooks)}, { data: process.env.MODULE_LIST });\n` +
        "const require = createRequire(import.meta.url);\n" +
        "process.on('exit', () => appendFileSync(process.env.MODULE_LIST, [...Object.keys(require.cache).map((p) => 'file://' + p), ...process.moduleLoadList.map((m) => 'internal:' + m)].join('\\n') + '\\n'));\n",
    );
    const result = await run(process.execPath, ['--import', preload, BIN, ...args], { env: sandbox.env({ MODULE_LIST: list }) });
    const lines = readFileSync(list, 'utf8').split('\n').filter(Boolean);
    return {
      code: result.code,
      stdout: result.stdout,
      modules: lines.filter((line) => line.startsWith('file://')),
      internal: lines.filter((line) => line.startsWith('internal:')),
    };
  }

  it('a JSONL export to stdout loads neither undici\'s index, Node\'s bundled undici, the CSV reader, the archive, the media code nor the HTML and Markdown sinks', async () => {
    const out = await loadedBy(['dump', '--provider', 'relation', '--channel', CHANNEL, '--base-url', server.url, '--rate', '1000', '--no-progress']);
    expect(out.code).toBe(0);
    expect(out.stdout.trim().split('\n')).toHaveLength(120);
    // the hook sees the modules (sanity: an empty list would pass everything below)
    expect(out.modules.some((url) => url.includes('/undici/lib/dispatcher/agent.js'))).toBe(true);
    expect(out.modules.some((url) => url.endsWith('/dist/commands/dump.js'))).toBe(true);
    expect(out.modules.filter((url) => /\/node_modules\/undici\/index\.js$/.test(url))).toEqual([]);
    expect(out.modules.filter((url) => /\/undici\/lib\/web\//.test(url))).toEqual([]);
    expect(out.internal.filter((name) => name.includes('deps/undici'))).toEqual([]);
    expect(out.modules.filter((url) => /\/node_modules\/(csv-parse|libsql)\//.test(url))).toEqual([]);
    expect(out.modules.filter((url) => /\/dist\/(archive\/|targets\/archive-target|media\/|dump\/(media-run|dry-run)|sinks\/(html|markdown))/.test(url))).toEqual([]);
    expect(out.modules.filter((url) => /\/node_modules\/html-escaper\//.test(url))).toEqual([]);
  });

  it('undici\'s files loaded one by one are the very classes its index exports, with the methods its index gives them', async () => {
    const require = createRequire(import.meta.url);
    const api = require('undici/lib/api/index.js') as Record<string, unknown>;
    const { Agent, EnvHttpProxyAgent } = await import('../../src/http/undici.js');
    // src/http/undici.ts alone gives every dispatcher the API methods (undici's ProxyAgent needs connect)
    for (const name of ['request', 'stream', 'pipeline', 'upgrade', 'connect']) {
      expect(typeof api[name]).toBe('function');
      expect((Agent.prototype as unknown as Record<string, unknown>)[name]).toBe(api[name]);
    }
    const undici = require('undici') as typeof import('undici');
    expect(Agent).toBe(undici.Agent);
    expect(EnvHttpProxyAgent).toBe(undici.EnvHttpProxyAgent);
    expect(undici.Dispatcher.prototype.request).toBe(api.request);
  });
});
