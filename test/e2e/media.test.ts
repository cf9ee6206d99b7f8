/// <reference lib="dom" />
/**
 * --media and --partition through the real CLI (DESIGN.md sections 2 and 3),
 * checked in Chromium where a person would look: pictures and avatars load
 * from the local copies, the page fetches nothing remote, a second run
 * downloads nothing, a failed download is exit 5 and the next run fetches it,
 * the token never reaches another host; partitioned exports hold every
 * message once across complete parts.
 */
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startFixtureServer, type ChannelSpec, type FixtureServer } from '../../fixtures/server.js';
import { openPage, useBrowser } from '../helpers/browser.js';
import { runCli, TOKEN, type RunResult } from '../helpers/cli.js';
import { useSandbox } from '../helpers/fixtures.js';
import { scriptedServer, type Cleanup } from '../helpers/servers.js';
import { orderedIds, type ExportedMessage } from '../helpers/ground-truth.js';

const sandbox = useSandbox();
const browser = useBrowser();
let api: FixtureServer;
let other: FixtureServer;

const SPECIAL = {
  5: { url: '{self}/media/missing.png', name: 'missing.png', type: 'image/png' },
  9: { url: '{self}/media/huge.png', name: 'huge.png', type: 'image/png' },
  13: { url: '{self}/media/%2E%2E%2F%2E%2E%2Fx.png', name: '../../x.png', type: 'image/png' },
  21: { url: '{self}/media/flaky.png', name: 'flaky.png', type: 'image/png' },
} as const;

beforeAll(async () => {
  other = await startFixtureServer({});
  const channels: ChannelSpec[] = [
    { provider: 'relation', id: 'M1', count: 80, mediaBase: 'self' },
    {
      provider: 'discuz',
      id: '31',
      count: 40,
      mediaBase: 'self',
      attachmentsAt: { ...SPECIAL, 17: { url: `${other.url}/media/foreign.png`, name: 'foreign.png', type: 'image/png' } },
    },
    { provider: 'relation', id: 'P1', count: 230, stepMs: 20 * 60_000 },
  ];
  api = await startFixtureServer({ channels, auth: { token: TOKEN } });
});
afterAll(async () => {
  await Promise.all([api?.close(), other?.close()]);
});

function dump(args: string[]): Promise<RunResult> {
  return runCli(['dump', '--base-url', api.url, '--no-progress', ...args], { env: sandbox().env({ CHAT_EXPORT_API_KEY: undefined }) });
}

function lines(path: string): ExportedMessage[] {
  return readFileSync(path, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as ExportedMessage & { sender: { avatarFile?: string }; attachments: Array<{ file?: string }> });
}

describe('--media', () => {
  it('downloads pictures and avatars once, links them from JSONL, HTML and Markdown, and a second run fetches nothing', async () => {
    const out = join(sandbox().dir, 'relation-media');
    mkdirSync(out, { recursive: true });
    const first = await dump(['--provider', 'relation', '--channel', 'M1', '--media', '-o', join(out, 'm1.jsonl')]);
    expect(first.code, first.stderr).toBe(0);
    const messages = lines(join(out, 'm1.jsonl')) as Array<ExportedMessage & { sender: { avatarFile?: string }; attachments: Array<{ url: string; file?: string }> }>;
    const truth = api.messages('relation', 'M1');
    expect(messages.map((m) => m.id)).toEqual(orderedIds(truth));
    const pictures = truth.filter((m) => m.type === 'IMAGE');
    expect(pictures.length).toBeGreaterThan(0);
    for (const m of messages) {
      if (m.sender.avatar) {
        expect(m.sender.avatarFile).toMatch(/^media\/[0-9a-f]{2}\/[0-9a-f]{32}\.png$/);
        expect(existsSync(resolve(out, m.sender.avatarFile!))).toBe(true);
      } else {
        expect(m.sender).not.toHaveProperty('avatarFile');
      }
      if (m.type === 'image') {
        expect(m.attachments).toEqual([{ url: m.text, name: null, type: 'image', file: expect.stringMatching(/^media\//) }]);
      }
    }
    // Every distinct URL once.
    const fetched = api.mediaLog().map((e) => e.url);
    expect(new Set(fetched).size).toBe(fetched.length);
    const users = new Set(truth.map((m) => m.senderAvatar).filter(Boolean));
    expect(fetched).toHaveLength(users.size + pictures.length);

    api.resetLog();
    const html = await dump(['--provider', 'relation', '--channel', 'M1', '--media', '-o', join(out, 'm1.html')]);
    const md = await dump(['--provider', 'relation', '--channel', 'M1', '--media', '-o', join(out, 'm1.md')]);
    expect([html.code, md.code], html.stderr + md.stderr).toEqual([0, 0]);
    expect(api.mediaLog()).toEqual([]);
    expect(readFileSync(join(out, 'm1.md'), 'utf8')).toMatch(/📎 !\[[^\]]+\]\(<media\/[0-9a-f]{2}\/[0-9a-f]{32}\.png>\)/);

    const page = await openPage(browser(), pathToFileURL(join(out, 'm1.html')).href);
    try {
      await page.page.evaluate(() => document.querySelectorAll('img').forEach((img) => img.setAttribute('loading', 'eager')));
      await page.page.waitForFunction(() => Array.from(document.images).every((img) => img.complete));
      const images = await page.page.locator('img').evaluateAll((imgs) => imgs.map((img) => ({ src: img.getAttribute('src'), width: (img as HTMLImageElement).naturalWidth })));
      expect(images.filter((img) => img.width === 0)).toEqual([]);
      expect(images.filter((img) => !img.src?.startsWith('media/'))).toEqual([]);
      expect(images.length).toBeGreaterThan(pictures.length);
      // Only the page and its local files: nothing from the network.
      expect(page.requests.filter((url) => !url.startsWith(pathToFileURL(out).href))).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('names each failed download, exits 5, keeps the token from other hosts and fetches the failure in the next run', async () => {
    const out = join(sandbox().dir, 'discuz-media/');
    api.resetLog();
    other.resetLog();
    api.setMediaStatus('flaky.png', 503);
    let first: RunResult;
    try {
      first = await dump(['--provider', 'discuz', '--channel', '31', '--media', '--media-max-size', '1M', '--retries', '1', '-o', out, '--format', 'html']);
    } finally {
      api.setMediaStatus('flaky.png', undefined);
    }
    expect(first.code, first.stderr).toBe(5);
    expect(first.stderr).toMatch(/discuz channel 31: 3 media files could not be downloaded/);
    expect(first.stderr).toMatch(/missing\.png \(HTTP 404/);
    expect(first.stderr).toMatch(/flaky\.png \(HTTP 503/);
    expect(first.stderr).toMatch(/media files? could not be downloaded.*(huge\.png \(.*size cap|and 1 more)/);
    expect(first.stderr).not.toContain(TOKEN);
    // The output is still written, every message in it.
    const page = join(out, 'discuz-31.html');
    const text = readFileSync(page, 'utf8');
    expect([...text.matchAll(/<article [^>]*data-id="([^"]+)"/g)].map((m) => m[1])).toEqual(orderedIds(api.messages('discuz', '31')));
    // The climbing name landed inside media/, under its content name.
    const stored = readdirSync(join(out, 'media'), { recursive: true }).map(String);
    expect(stored.every((name) => !name.includes('x.png'))).toBe(true);
    expect(existsSync(join(dirname(out), 'x.png'))).toBe(false);
    // The API origin got the token with each download; the other origin never did.
    expect(other.mediaLog()).toHaveLength(1);
    expect(JSON.stringify(other.mediaLog()[0]!.headers)).not.toContain(TOKEN);
    expect(api.mediaLog().every((e) => e.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);

    api.resetLog();
    const second = await dump(['--provider', 'discuz', '--channel', '31', '--media', '--media-max-size', '1M', '--retries', '1', '-o', out, '--format', 'html']);
    // flaky.png now arrives; the 404 and the oversized file are still missing.
    expect(second.code, second.stderr).toBe(5);
    expect(second.stderr).toMatch(/2 media files could not be downloaded/);
    const refetched = [...new Set(api.mediaLog().map((e) => e.url))].sort();
    expect(refetched).toEqual(['/media/flaky.png', '/media/huge.png', '/media/missing.png']);
    expect(readFileSync(page, 'utf8')).toMatch(/<a class="att image" href="media\/[0-9a-f]{2}\/[0-9a-f]{32}\.png"><img src="media\/[^"]+" alt="flaky\.png"/);
  });

  it('refuses a size it cannot read and --media-dir without --media, before any request', async () => {
    const before = api.log.length;
    const bad = await dump(['--provider', 'relation', '--channel', 'M1', '--media', '--media-max-size', '12 parsecs']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--media-max-size "12 parsecs" is not a size/);
    const lonely = await dump(['--provider', 'relation', '--channel', 'M1', '--media-dir', sandbox().dir]);
    expect(lonely.code).toBe(2);
    expect(api.log.length).toBe(before);
  });
});

describe('--media: where the URLs of a message may lead', () => {
  const cleanups: Cleanup[] = [];
  afterAll(async () => {
    while (cleanups.length > 0) await cleanups.pop()!();
  });

  /** A loopback port nothing listens on (connections to it are refused). */
  async function closedPort(): Promise<number> {
    const server = createNetServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    return port;
  }

  async function discuzWith(attachmentsAt: ChannelSpec['attachmentsAt'], count = 12): Promise<FixtureServer> {
    const server = await startFixtureServer({ channels: [{ provider: 'discuz', id: '41', count, mediaBase: 'self', attachmentsAt }], auth: { token: TOKEN } });
    cleanups.push(() => server.close());
    return server;
  }

  function dumpFrom(server: FixtureServer, out: string, extra: string[]): Promise<RunResult> {
    mkdirSync(dirname(out), { recursive: true });
    return runCli(['dump', '--provider', 'discuz', '--channel', '41', '--base-url', server.url, '--no-progress', '--rate', '1000', '--media', '-o', out, ...extra], {
      env: sandbox().env({ CHAT_EXPORT_API_KEY: undefined }),
    });
  }

  it('refuses link-local addresses always and loopback ones that are not the API host, at every redirect; --media-allow-private lets those through', async () => {
    const redirector = await scriptedServer(cleanups, (_req, res) => {
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/role' }).end();
    });
    const port = await closedPort();
    const server = await discuzWith({
      1: { url: 'http://169.254.169.254/latest/meta-data/x.png', name: 'x.png', type: 'image/png' },
      3: { url: 'http://[fe80::1]/y.png', name: 'y.png', type: 'image/png' },
      5: { url: 'http://[::ffff:169.254.169.254]/z.png', name: 'z.png', type: 'image/png' },
      7: { url: `http://127.0.0.2:${port}/lo.png`, name: 'lo.png', type: 'image/png' },
      9: { url: `${redirector.url}/hop.png`, name: 'hop.png', type: 'image/png' },
      11: { url: '{self}/media/fine.png', name: 'fine.png', type: 'image/png' },
    });
    const out = join(sandbox().dir, 'ssrf', 'd.jsonl');
    const first = await dumpFrom(server, out, ['-v', '--retries', '0', '--timeout', '3000']);
    // Refusals are not failures: the messages are exported with their remote links, and the next run does not retry them.
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/media: 5 URLs point where downloads are not allowed, not fetched: .*; their messages keep the remote links/);
    expect(first.stderr).toMatch(/169\.254\.169\.254 is link-local, where cloud metadata lives: never fetched/);
    expect(first.stderr).toMatch(/fe80::1 is link-local/);
    expect(first.stderr).toMatch(/::ffff:a9fe:a9fe is link-local/);
    expect(first.stderr).toMatch(/127\.0\.0\.2 is a loopback or private address, not the API's host: fetched only with --media-allow-private/);
    expect(first.stderr).not.toMatch(/network error|could not be downloaded/);
    // The redirector is on the API's host (127.0.0.1): asked once; where it pointed was not.
    expect(redirector.hits).toHaveLength(1);
    const files = Object.fromEntries(lines(out).flatMap((m) => (m.attachments as Array<{ name: string; file?: string }>).map((a) => [a.name, a.file ?? null])));
    expect(files).toEqual({ 'x.png': null, 'y.png': null, 'z.png': null, 'lo.png': null, 'hop.png': null, 'fine.png': expect.stringMatching(/^media\//) });
    const index = JSON.parse(readFileSync(join(dirname(out), 'media', 'index.json'), 'utf8')) as { failed: Record<string, unknown> };
    expect(index.failed).toEqual({});

    const allowed = await dumpFrom(server, out, ['--media-allow-private', '--retries', '0', '--timeout', '3000']);
    // 127.0.0.2 is now tried (nothing listens there); link-local stays refused.
    expect(allowed.code, allowed.stderr).toBe(5);
    expect(allowed.stderr).toMatch(new RegExp(`127\\.0\\.0\\.2:${port}/lo\\.png \\(.*ECONNREFUSED`));
    expect(allowed.stderr).toMatch(/media: 4 URLs point where downloads are not allowed/);
  });

  it('sends the token only when the first URL is on the API origin: a URL elsewhere that redirects into it gets none', async () => {
    let api: FixtureServer | undefined;
    const foreign = await scriptedServer(cleanups, (_req, res) => {
      res.writeHead(302, { location: `${api!.url}/media/lured.png` }).end();
    });
    api = await discuzWith({ 2: { url: `${foreign.url}/x.png`, name: 'x.png', type: 'image/png' }, 4: { url: '{self}/media/own.png', name: 'own.png', type: 'image/png' } }, 6);
    const result = await dumpFrom(api, join(sandbox().dir, 'lure', 'd.jsonl'), []);
    expect(result.code, result.stderr).toBe(0);
    const log = api.mediaLog();
    expect(log.map((e) => e.url)).toEqual(expect.arrayContaining(['/media/lured.png', '/media/own.png']));
    expect(log.find((e) => e.url === '/media/lured.png')!.headers.authorization).toBeUndefined();
    expect(log.find((e) => e.url === '/media/own.png')!.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(JSON.stringify(foreign.hits[0]!.headers)).not.toContain(TOKEN);
  });

  it('gives up a host that refuses connections at once and one that never answers at its second timeout; names every file; the next run tries them again', async () => {
    const port = await closedPort();
    const silent = await scriptedServer(cleanups, () => {});
    const attachments: NonNullable<ChannelSpec['attachmentsAt']> = {};
    for (let k = 0; k < 8; k++) attachments[k] = { url: `http://127.0.0.1:${port}/gone-${k}.png`, name: `gone-${k}.png`, type: 'image/png' };
    for (let k = 8; k < 16; k++) attachments[k] = { url: `${silent.url}/slow-${k}.png`, name: `slow-${k}.png`, type: 'image/png' };
    attachments[16] = { url: '{self}/media/ok.png', name: 'ok.png', type: 'image/png' };
    const server = await discuzWith(attachments, 20);
    const out = join(sandbox().dir, 'dead', 'd.jsonl');
    const result = await dumpFrom(server, out, ['-v', '--retries', '5', '--timeout', '500']);
    expect(result.code, result.stderr).toBe(5);
    expect(result.stderr).toMatch(new RegExp(`media: 127\\.0\\.0\\.1:${port} is unreachable \\(connection refused or unreachable, ECONNREFUSED\\); its other files are not tried in this run`));
    expect(result.stderr).toMatch(new RegExp(`media: ${new URL(silent.url).host.replace(/\./g, '\\.')} is unreachable \\(no answer in time\\)`));
    // Noticed once: no file on the refusing host is retried, and the silent one was asked at most once per download slot.
    expect(result.stderr).not.toMatch(new RegExp(`retry \\d+/5 of http://127\\.0\\.0\\.1:${port}/`));
    expect(silent.hits.length).toBeLessThanOrEqual(4);
    expect(result.stderr).toMatch(/discuz channel 41: 16 media files could not be downloaded/);
    expect(result.stderr).toMatch(/files there were not tried; the next --media run tries them again/);
    expect(lines(out)).toHaveLength(20);
    expect(lines(out).find((m) => m.attachments.some((a) => a.name === 'ok.png'))!.attachments[0]).toHaveProperty('file');
    const index = JSON.parse(readFileSync(join(dirname(out), 'media', 'index.json'), 'utf8')) as { failed: Record<string, unknown> };
    expect(Object.keys(index.failed)).toHaveLength(16);
  });
});

describe('--partition', () => {
  it('splits an HTML transcript into complete pages that together hold every message once, replies linking across parts', async () => {
    const out = join(sandbox().dir, 'parts');
    mkdirSync(out, { recursive: true });
    const result = await dump(['--provider', 'relation', '--channel', 'P1', '--partition', '60', '-o', join(out, 'p1.html')]);
    expect(result.code, result.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['p1.2.html', 'p1.3.html', 'p1.4.html', 'p1.html']);
    const ids: string[] = [];
    const anchors = new Map<string, string>();
    const links: Array<{ file: string; href: string }> = [];
    for (const file of ['p1.html', 'p1.2.html', 'p1.3.html', 'p1.4.html']) {
      const page = await openPage(browser(), pathToFileURL(join(out, file)).href);
      try {
        const partIds = await page.page.locator('[data-id]').evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-id') ?? ''));
        expect(partIds.length).toBeLessThanOrEqual(60);
        ids.push(...partIds);
        for (const id of partIds) anchors.set(id, file);
        for (const href of await page.page.locator('a.reply').evaluateAll((nodes) => nodes.map((a) => a.getAttribute('href') ?? ''))) links.push({ file, href });
        expect(await page.page.locator('.head').textContent()).toContain(`part ${['p1.html', 'p1.2.html', 'p1.3.html', 'p1.4.html'].indexOf(file) + 1} of 4`);
        expect(page.requests).toHaveLength(1);
      } finally {
        await page.close();
      }
    }
    expect(ids).toEqual(orderedIds(api.messages('relation', 'P1')));
    expect(links.length).toBeGreaterThan(10);
    let across = 0;
    for (const { file, href } of links) {
      const [target = '', id = ''] = href.split('#m-');
      const inFile = target === '' ? file : decodeURIComponent(target);
      if (inFile !== file) across++;
      expect(anchors.get(decodeURIComponent(id))).toBe(inFile);
    }
    expect(across).toBeGreaterThan(0);
  });

  it('repeats the CSV header in every part and refuses --incremental and stdout (exit 2)', async () => {
    const out = join(sandbox().dir, 'csv-parts/');
    const result = await dump(['--provider', 'relation', '--channel', 'P1', '--partition', '100', '-o', out, '--format', 'csv']);
    expect(result.code, result.stderr).toBe(0);
    const files = readdirSync(out).sort();
    expect(files).toEqual(['relation-P1.2.csv', 'relation-P1.3.csv', 'relation-P1.csv']);
    const rows = files.map((f) => parse(readFileSync(join(out, f), 'utf8')) as string[][]);
    for (const part of rows) expect(part[0]?.slice(0, 2)).toEqual(['id', 'timestamp']);
    expect(rows.reduce((sum, part) => sum + part.length - 1, 0)).toBe(230);
    // The summary names the parts and their real size on disk (it said "(0 B)").
    const bytes = files.reduce((sum, f) => sum + statSync(join(out, f)).size, 0);
    const size = bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`;
    expect(result.stderr).toContain(`230 messages → ${join(out, 'relation-P1.csv')} (3 parts, ${size})`);

    for (const extra of [['--incremental', '-o', out], ['-o', '-']]) {
      const refused = await dump(['--provider', 'relation', '--channel', 'P1', '--partition', '100', ...extra]);
      expect(refused.code, refused.stderr).toBe(2);
    }
  });
});
