/**
 * The media stage against real loopback servers: content-addressed files,
 * never fetched twice, the size cap while streaming, names that try to climb
 * out of the media directory, credentials only to the API's own origin,
 * failures counted and remembered for the next run.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { HUGE_BYTES, pngOf } from '../../fixtures/media.js';
import { startFixtureServer, type FixtureServer } from '../../fixtures/server.js';
import { HttpClient } from '../../src/http/client.js';
import type { Logger } from '../../src/log.js';
import { createMessage, type Message } from '../../src/message.js';
import { MediaStage } from '../../src/media/stage.js';
import { INDEX_FILE, MediaStore, extensionFor } from '../../src/media/store.js';

const TOKEN = 'media-token-5e6f';
const logger: Logger = { verbosity: 'quiet', error() {}, warn() {}, info() {}, debug() {} };

let api: FixtureServer;
let other: FixtureServer;
const dirs: string[] = [];
const clients: HttpClient[] = [];

beforeAll(async () => {
  api = await startFixtureServer({});
  other = await startFixtureServer({});
});
afterAll(async () => {
  await Promise.all([api.close(), other.close()]);
});
afterEach(async () => {
  for (const http of clients.splice(0)) await http.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  api.resetLog();
  other.resetLog();
});

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'media-'));
  dirs.push(dir);
  return dir;
}

async function stageIn(dir: string, maxBytes = 1024 * 1024): Promise<MediaStage> {
  const http = new HttpClient({ timeoutMs: 5000, retries: 1, rate: 1000, logger, retryBaseMs: 1 });
  clients.push(http);
  const store = await MediaStore.open(join(dir, 'media'), () => {});
  return new MediaStage({
    store,
    http,
    credentials: { authorization: `Bearer ${TOKEN}` },
    credentialOrigin: new URL(api.url).origin,
    maxBytes,
    logger,
  });
}

function message(id: string, fields: { avatar?: string | null; attachments?: Array<{ url: string; name: string | null; type: string | null }>; type?: string; text?: string }): Message {
  return createMessage({
    id,
    provider: 'discuz',
    channel: '1',
    time: 1_700_000_000_000,
    sender: { id: 'u1', name: 'alice', avatar: fields.avatar ?? null },
    type: fields.type ?? 'text',
    text: fields.text ?? 'hi',
    attachments: fields.attachments ?? [],
  });
}

async function run(stage: MediaStage, messages: Message[], output: string) {
  const media = stage.forChannel(output, 'discuz channel 1');
  const entries = messages.map((m) => ({ time: 0, message: m }));
  await media.apply(entries);
  await stage.close();
  return { media, messages: entries.map((e) => e.message) };
}

describe('media stage', () => {
  it('stores each file once by content, links it relative to the output, and never fetches a URL twice', async () => {
    const dir = scratch();
    const same = `${api.url}/media/a.png`;
    const sameContent = `${api.url}/media/a.png?copy=1`;
    const messages = [
      message('1', { avatar: `${api.url}/media/avatar.png`, attachments: [{ url: same, name: 'a.png', type: 'image/png' }] }),
      message('2', { avatar: `${api.url}/media/avatar.png`, attachments: [{ url: sameContent, name: null, type: null }] }),
      message('3', { type: 'image', text: `${api.url}/media/picture.jpg` }),
    ];
    const output = join(dir, 'out', 'discuz-1.jsonl');
    const first = await run(await stageIn(dir), messages, output);
    // Counts are of files, not of the references to them (the avatar twice is one file).
    expect(first.media.stats).toEqual({ downloaded: 4, reused: 0, failed: 0, refused: 0 });
    const [m1, m2, m3] = first.messages as [Message, Message, Message];
    expect(m1.sender.avatarFile).toMatch(/^\.\.\/media\/[0-9a-f]{2}\/[0-9a-f]{32}\.png$/);
    expect(m2.sender.avatarFile).toBe(m1.sender.avatarFile);
    // Two URLs, one content: one file.
    expect(m2.attachments[0]!.file).toBe(m1.attachments[0]!.file);
    expect(readFileSync(resolve(dir, 'out', m1.attachments[0]!.file!))).toEqual(pngOf('a.png'));
    // An image message's picture becomes an attachment naming its copy.
    expect(m3.attachments).toEqual([{ url: `${api.url}/media/picture.jpg`, name: null, type: 'image', file: expect.stringMatching(/\.jpg$/) }]);
    // Keys in contract order, the new ones last in their objects.
    expect(Object.keys(m1.sender)).toEqual(['id', 'name', 'avatar', 'avatarFile']);
    expect(Object.keys(m1.attachments[0]!)).toEqual(['url', 'name', 'type', 'file']);
    expect(api.mediaLog().map((e) => e.url).sort()).toEqual(['/media/a.png', '/media/a.png?copy=1', '/media/avatar.png', '/media/picture.jpg']);

    api.resetLog();
    const second = await run(await stageIn(dir), messages, output);
    // 5 references, 4 URLs, 3 files (a.png and its copy are one content)
    expect(second.media.stats).toEqual({ downloaded: 0, reused: 3, failed: 0, refused: 0 });
    expect(api.mediaLog()).toEqual([]);
    expect(second.messages).toEqual(first.messages);
  });

  it('sends the credentials to the API origin only, never to another host', async () => {
    const dir = scratch();
    await run(
      await stageIn(dir),
      [message('1', { attachments: [{ url: `${api.url}/media/own.png`, name: null, type: null }, { url: `${other.url}/media/foreign.png`, name: null, type: null }] })],
      join(dir, 'x.jsonl'),
    );
    expect(api.mediaLog()[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    const foreign = other.mediaLog();
    expect(foreign).toHaveLength(1);
    expect(JSON.stringify(foreign[0]!.headers)).not.toContain(TOKEN);
  });

  it('keeps a file whose URL names ../../x.png inside the media directory', async () => {
    const dir = scratch();
    const url = `${api.url}/media/%2E%2E%2F%2E%2E%2Fx.png`;
    const { messages } = await run(await stageIn(dir), [message('1', { attachments: [{ url, name: '../../x.png', type: 'image/png' }] })], join(dir, 'out.html'));
    const file = messages[0]!.attachments[0]!.file!;
    expect(file).toMatch(/^media\/[0-9a-f]{2}\/[0-9a-f]{32}\.png$/);
    expect(relative(join(dir, 'media'), resolve(dir, file)).startsWith('..')).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(['media']);
  });

  it.each([
    ['a 404', 'missing.png', /HTTP 404/],
    ['a file over the cap, streamed', 'huge.png', /size cap/],
    ['a file over the cap, announced', 'huge-declared.png', /size cap/],
  ])('counts %s as failed, keeps the message as it was and leaves no partial file', async (_, name, reason) => {
    const dir = scratch();
    const original = message('1', { attachments: [{ url: `${api.url}/media/${name}`, name, type: 'image/png' }] });
    const { media, messages } = await run(await stageIn(dir, HUGE_BYTES - 1), [original], join(dir, 'x.jsonl'));
    expect(media.stats.failed).toBe(1);
    expect(media.failures[0]!.reason).toMatch(reason);
    expect(messages[0]).toEqual(original);
    const stored = readdirSync(join(dir, 'media'), { recursive: true }).map(String);
    expect(stored.filter((f) => f !== INDEX_FILE)).toEqual([]);
    const index = JSON.parse(readFileSync(join(dir, 'media', INDEX_FILE), 'utf8')) as { failed: Record<string, unknown> };
    expect(Object.keys(index.failed)).toEqual([`${api.url}/media/${name}`]);
  });

  it('retries a failed download in the next run, and then forgets the failure', async () => {
    const dir = scratch();
    const url = `${api.url}/media/flaky.png`;
    api.setMediaStatus('flaky.png', 503);
    try {
      const first = await run(await stageIn(dir), [message('1', { attachments: [{ url, name: null, type: null }] })], join(dir, 'x.jsonl'));
      expect(first.media.stats.failed).toBe(1);
      // 503 is retried within the run (retries: 1) before it counts
      expect(api.mediaLog().filter((e) => e.url === '/media/flaky.png')).toHaveLength(2);
    } finally {
      api.setMediaStatus('flaky.png', undefined);
    }
    const stage = await stageIn(dir);
    const retried = await stage.retryEarlierFailures('discuz channel 1');
    await stage.close();
    expect(retried).toEqual({ fetched: 1, failures: [] });
    const index = JSON.parse(readFileSync(join(dir, 'media', INDEX_FILE), 'utf8')) as { files: Record<string, string>; failed: Record<string, unknown> };
    expect(index.failed).toEqual({});
    expect(Object.keys(index.files)).toEqual([url]);
  });

  it('fetches again a file deleted by hand, and survives a corrupt index', async () => {
    const dir = scratch();
    const url = `${api.url}/media/b.png`;
    const first = await run(await stageIn(dir), [message('1', { avatar: url })], join(dir, 'x.jsonl'));
    rmSync(resolve(dir, first.messages[0]!.sender.avatarFile!));
    writeFileSync(join(dir, 'media', INDEX_FILE), '{"version":1,"files":');
    const second = await run(await stageIn(dir), [message('1', { avatar: url })], join(dir, 'x.jsonl'));
    expect(second.media.stats.downloaded).toBe(1);
    expect(existsSync(resolve(dir, second.messages[0]!.sender.avatarFile!))).toBe(true);
  });

  it('removes the temp files of a run killed mid-download, and only those', async () => {
    const dir = scratch();
    const media = join(dir, 'media');
    await MediaStore.open(media, () => {});
    const dead = join(media, '.download-999999999-abcdef.tmp');
    const alive = join(media, `.download-${process.pid}-abcdef.tmp`);
    writeFileSync(dead, 'partial');
    writeFileSync(alive, 'partial');
    await MediaStore.open(media, () => {});
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(alive)).toBe(true);
  });

  it('downloads only http(s) URLs', async () => {
    const dir = scratch();
    const original = message('1', { avatar: 'file:///etc/passwd', attachments: [{ url: 'javascript:alert(1)', name: null, type: null }, { url: 'data:image/png;base64,AAAA', name: null, type: null }] });
    const { media, messages } = await run(await stageIn(dir), [original], join(dir, 'x.jsonl'));
    expect(media.stats).toEqual({ downloaded: 0, reused: 0, failed: 0, refused: 0 });
    expect(messages[0]).toEqual(original);
  });
});

type NameCase = [url: string, name: string | null, type: string | undefined, ext: string];

describe('stored file names', () => {
  it.each<NameCase>([
    ['https://x.example/a/b.PNG', null, undefined, 'png'],
    ['https://x.example/a/b', 'photo.jpeg', undefined, 'jpeg'],
    ['https://x.example/a/b', null, 'image/webp; q=1', 'webp'],
    ['https://x.example/a/b', null, undefined, 'bin'],
    ['https://x.example/evil.html', null, 'text/html', 'html.txt'],
    ['https://x.example/x.svg', null, undefined, 'svg.txt'],
    ['https://x.example/a%2F..%2F..%2Fb.sh%00.png', null, undefined, 'png'],
    ['https://x.example/a.verylongextension', null, 'image/png', 'png'],
    // Chromium runs these from file:// (issue 25): only passive extensions are kept as they are
    ...['shtm', 'xhtm', 'ehtml', 'rss', 'atom', 'xsd', 'xbl'].map((ext): NameCase => [`https://x.example/a.${ext}`, null, undefined, `${ext}.txt`]),
    ['https://x.example/setup.exe', null, 'application/octet-stream', 'exe.bin'],
    ['https://x.example/a/b', 'report.docx', undefined, 'docx.bin'],
    ['https://x.example/a/b', 'notes.xyz', 'text/plain', 'txt'],
    // a right-to-left override makes `photo\u202egnp.exe` read as "photoexe.png": the stored name says what it is
    ['https://x.example/a/b', 'photo\u202egnp.exe', undefined, 'exe.bin'],
    ['https://x.example/a/b', 'clip.mp\u202e4', undefined, 'mp4'],
    ...['jpg', 'mp3', 'ogg', 'mov', 'pdf', 'txt', 'zip', '7z', 'tgz'].map((ext): NameCase => [`https://x.example/a.${ext.toUpperCase()}`, null, undefined, ext]),
  ])('%s (name %s, type %s) is stored as .%s', (url, name, type, ext) => {
    expect(extensionFor(new URL(url), name, type)).toBe(ext);
  });
});
