/// <reference lib="dom" />
/**
 * HTML transcripts opened in a real headless Chromium (DESIGN.md section 3,
 * HTML): every message once and in order, hostile texts inert (no element,
 * no script, no request), replies linking to anchors that exist, dark mode,
 * a phone-sized viewport, several channels in one document.
 */
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

import { HOSTILE_TEXTS } from '../../fixtures/history.js';
import type { ChannelSpec, Provider } from '../../fixtures/server.js';
import { openPage, useBrowser, type OpenedPage } from '../helpers/browser.js';
import { runCli } from '../helpers/cli.js';
import { useSandbox, useServer } from '../helpers/fixtures.js';
import { orderedIds } from '../helpers/ground-truth.js';
import { createMessage } from '../../src/message.js';
import { createHtmlSink } from '../../src/sinks/html.js';
import { writeChannel } from '../../src/sinks/write.js';

const HOUR = 3_600_000;
const HOSTILE_COUNT = 7 * HOSTILE_TEXTS.length + 30;
const CHANNELS: ChannelSpec[] = [
  { provider: 'relation', id: 'H1', count: HOSTILE_COUNT, hostile: true, stepMs: HOUR / 4 },
  { provider: 'discuz', id: '55', count: HOSTILE_COUNT, hostile: true, stepMs: HOUR },
  { provider: 'dishawang', id: '77', count: HOSTILE_COUNT, hostile: true, stepMs: HOUR },
  { provider: 'relation', id: 'C2', count: 40 },
];

const server = useServer({ channels: CHANNELS });
const sandbox = useSandbox();
const browser = useBrowser();

async function exportHtml(provider: Provider, channels: string[], file: string, extra: string[] = []): Promise<string> {
  const dir = join(sandbox().dir, 'out');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, file);
  const args = ['dump', '--provider', provider, '--base-url', server().url, '--no-progress', '-o', path, ...extra];
  for (const channel of channels) args.push('--channel', channel);
  const result = await runCli(args, { env: sandbox().env() });
  expect(result.stderr).not.toMatch(/internal error/i);
  expect(result.code, result.stderr).toBe(0);
  return path;
}

async function withPage<T>(path: string, check: (opened: OpenedPage) => Promise<T>, options: Parameters<typeof openPage>[2] = {}): Promise<T> {
  const opened = await openPage(browser(), pathToFileURL(path).href, options);
  try {
    return await check(opened);
  } finally {
    await opened.close();
  }
}

/** Elements a message body could have created: anything but what the sink itself writes. */
const FOREIGN = 'script, iframe, object, embed, svg, math, link, meta[http-equiv="refresh"], form, input, textarea, base, style:not(head > style), img:not(.avatar):not(.att img)';

describe.each([
  ['relation', 'H1'],
  ['discuz', '55'],
  ['dishawang', '77'],
] as const)('an HTML transcript of a hostile %s channel, in Chromium', (provider, channel) => {
  it('holds every message once, in export order, and nothing in it runs or fetches', async () => {
    const path = await exportHtml(provider, [channel], `${provider}-${channel}.html`);
    const expected = orderedIds(server().messages(provider, channel), 'asc');
    await withPage(path, async ({ page, requests, console: lines }) => {
      const ids = await page.locator('[data-id]').evaluateAll((nodes) => nodes.map((node) => node.getAttribute('data-id')));
      expect(ids).toEqual(expected);
      // The page itself is the only request: no image, stylesheet, frame or beacon.
      expect(requests).toEqual([pathToFileURL(path).href]);
      expect(await page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned)).toBeUndefined();
      expect(await page.locator(FOREIGN).count()).toBe(0);
      // Only http(s) links, and each one's text is its own address (no markup chose a link).
      const links = await page.locator('.text a').evaluateAll((nodes) => nodes.map((a) => ({ href: a.getAttribute('href'), text: a.textContent })));
      for (const link of links) {
        expect(link.href).toMatch(/^https?:\/\//);
        expect(link.text).toBe(link.href);
      }
      expect(await page.locator('a[href^="javascript:" i], [onerror], [onload], [onmouseover], [style]').count()).toBe(0);
      // The stylesheet is the sink's own: the CSP let it apply (no violation in the console).
      expect(lines.filter((line) => /Content Security Policy|Refused/i.test(line))).toEqual([]);
      expect(await page.locator('body').evaluate((body) => getComputedStyle(body).margin)).toBe('0px');
      // Each hostile text is shown as the characters it is (control characters aside).
      const texts = await page.locator('[data-id] > .text').allTextContents();
      for (const hostile of ['<script>alert(1)</script>', '<img src=x onerror="window.__pwned=1">', '</style><script>window.__pwned=1</script><style>']) {
        expect(texts).toContain(hostile);
      }
    });
  });
});

describe('replies, markers and layout in Chromium', () => {
  it('links each reply to the anchor of the quoted message, naming its author and text', async () => {
    const path = await exportHtml('relation', ['H1'], 'replies.html');
    const truth = new Map(server().messages('relation', 'H1').map((m) => [m.id, m]));
    await withPage(path, async ({ page }) => {
      const replies = await page.locator('a.reply').evaluateAll((nodes) =>
        nodes.map((a) => ({
          href: a.getAttribute('href') ?? '',
          id: a.getAttribute('data-reply-to') ?? '',
          author: a.querySelector('b')?.textContent ?? '',
          text: a.querySelector('span')?.textContent ?? '',
          from: a.closest('[data-id]')?.getAttribute('data-id') ?? '',
        })),
      );
      const quoting = [...truth.values()].filter((m) => m.replyTo !== null);
      expect(quoting.length).toBeGreaterThan(5);
      expect(replies.map((r) => r.from).sort()).toEqual(quoting.map((m) => m.id).sort());
      for (const reply of replies) {
        expect(reply.href).toBe(`#m-${reply.id}`);
        expect(await page.locator(`[id="m-${reply.id}"][data-id="${reply.id}"]`).count()).toBe(1);
        const quoted = truth.get(reply.id)!;
        expect(reply.author).toBe(`↪ ${quoted.senderName ?? quoted.senderId}`);
        expect(quoted.text.replace(/\s+/g, ' ')).toContain(reply.text.replace(/…$/, '').slice(0, 20));
      }
      // Following one lands on the quoted message.
      const first = replies[0]!;
      await page.locator(`a.reply[data-reply-to="${first.id}"]`).first().click();
      expect(await page.evaluate(() => location.hash)).toBe(`#m-${first.id}`);
    });
  });

  it('a link to a message in the middle of a group scrolls it into view with its sender\'s name still on screen', async () => {
    const path = await exportHtml('relation', ['C2'], 'scroll-margin.html');
    await withPage(path, async ({ page }) => {
      // the second message of a group whose first is one line, far enough down that the page must scroll to it
      const target = await page.locator('.group').evaluateAll((groups) => {
        const candidates = groups.filter((g) => {
          const msgs = g.querySelectorAll(':scope > .msg');
          return msgs.length >= 2 && msgs[0]!.getBoundingClientRect().height < 30 && g.getBoundingClientRect().top > 900;
        });
        return candidates[0]?.querySelectorAll(':scope > .msg')[1]?.getAttribute('data-id') ?? null;
      });
      expect(target, 'a later group with two messages').not.toBeNull();
      await page.evaluate((id) => { location.hash = `#m-${id}`; }, target);
      const seen = await page.evaluate((id) => {
        const msg = document.getElementById(`m-${id}`)!;
        const name = msg.closest('.group')!.querySelector('.who .name')!;
        return { msg: msg.getBoundingClientRect().top, name: name.getBoundingClientRect().top, scrolled: window.scrollY };
      }, target);
      expect(seen.scrolled).toBeGreaterThan(0);
      expect(seen.name).toBeGreaterThanOrEqual(0);
      expect(seen.msg).toBeGreaterThan(seen.name);
    }, { viewport: { width: 1000, height: 600 } });
  });

  it('marks edited, deleted and system messages and separates days', async () => {
    const discuz = await exportHtml('discuz', ['55'], 'discuz.html', ['--tz', 'UTC']);
    const edited = server().messages('discuz', '55').filter((m) => m.updatedTime !== null && m.updatedTime > m.time);
    await withPage(discuz, async ({ page }) => {
      expect(await page.locator('[data-id] .mark', { hasText: 'edited' }).count()).toBe(edited.length);
      const days = new Set(server().messages('discuz', '55').map((m) => new Date(m.time).toISOString().slice(0, 10)));
      expect(await page.locator('.day').count()).toBe(days.size);
    }, {});
    const dishawang = await exportHtml('dishawang', ['77'], 'dishawang.html');
    const deleted = server().messages('dishawang', '77').filter((m) => m.deleted);
    expect(deleted.length).toBeGreaterThan(0);
    await withPage(dishawang, async ({ page }) => {
      const marked = await page.locator('[data-id].deleted').evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-id')));
      expect(marked.sort()).toEqual(deleted.map((m) => m.id).sort());
    });
    const relation = await exportHtml('relation', ['H1'], 'system.html');
    const system = server().messages('relation', 'H1').filter((m) => m.type === 'SYS');
    await withPage(relation, async ({ page }) => {
      expect(await page.locator('[data-id].system').count()).toBe(system.length);
    });
  });

  it('renders in dark mode with light text on a dark background, and fits a phone screen', async () => {
    const path = await exportHtml('relation', ['C2'], 'dark.html');
    const colours = async (scheme: 'light' | 'dark') =>
      withPage(path, async ({ page }) => page.locator('body').evaluate((body) => {
        const style = getComputedStyle(body);
        return { bg: style.backgroundColor, fg: style.color };
      }), { colorScheme: scheme });
    const light = await colours('light');
    const dark = await colours('dark');
    const luminance = (rgb: string) => {
      const [r, g, b] = (rgb.match(/\d+/g) ?? []).map(Number);
      return 0.2126 * (r ?? 0) + 0.7152 * (g ?? 0) + 0.0722 * (b ?? 0);
    };
    expect(luminance(light.bg)).toBeGreaterThan(luminance(light.fg));
    expect(luminance(dark.bg)).toBeLessThan(luminance(dark.fg));
    expect(dark.bg).not.toBe(light.bg);
    await withPage(path, async ({ page }) => {
      // Nothing wider than the screen: no sideways scrolling on a phone.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
    }, { viewport: { width: 360, height: 740 } });
  });

  it('puts several channels into one document, a section per channel, when they share one file', async () => {
    const path = await exportHtml('relation', ['C2', 'H1'], 'both.html');
    const text = readFileSync(path, 'utf8');
    expect(text.match(/<!DOCTYPE html>/g)).toHaveLength(1);
    expect(text.match(/<\/html>/g)).toHaveLength(1);
    await withPage(path, async ({ page, requests }) => {
      expect(await page.locator('section.channel').evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-channel')))).toEqual(['C2', 'H1']);
      const ids = await page.locator('[data-id]').evaluateAll((nodes) => nodes.map((node) => node.getAttribute('data-id')));
      expect(ids).toEqual([...orderedIds(server().messages('relation', 'C2')), ...orderedIds(server().messages('relation', 'H1'))]);
      expect(requests).toHaveLength(1);
    });
  });

  it('writes a newest-first transcript when asked, replies still resolved', async () => {
    const path = await exportHtml('relation', ['H1'], 'desc.html', ['--order', 'desc']);
    await withPage(path, async ({ page }) => {
      const ids = await page.locator('[data-id]').evaluateAll((nodes) => nodes.map((node) => node.getAttribute('data-id')));
      expect(ids).toEqual(orderedIds(server().messages('relation', 'H1'), 'desc'));
      expect(await page.locator('.reply:not(a)').count()).toBe(0);
    });
  });

  it('refuses --incremental for HTML before any request (exit 2)', async () => {
    const before = server().log.length;
    const result = await runCli(
      ['dump', '--provider', 'relation', '--base-url', server().url, '--channel', 'C2', '--incremental', '-o', join(sandbox().dir, 'inc.html')],
      { env: sandbox().env() },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--incremental does not apply to HTML/);
    expect(server().log.length).toBe(before);
  });
});

describe('odd ids and names, rendered by the sink itself, in Chromium', () => {
  it('keeps ids, channel and sender names as text, anchors resolvable, and nothing wider than a phone', async () => {
    const ids = ['a"b', '<i>', "x' onmouseover='y", '1 2', '#frag', '../..', 'ü/ß'];
    const base = Date.parse('2024-01-23T10:00:00Z');
    const messages = ids.map((id, k) =>
      createMessage({
        id,
        provider: 'relation',
        channel: '<script>window.__pwned=1</script>',
        time: base + k * 60_000,
        sender: { id: `u${k % 2}`, name: k % 2 ? '\u202Eevil</b>' : '<b>bold</b>', avatar: null },
        type: 'text',
        text: k === 0 ? 'x'.repeat(5000) : `reply ${k}`,
        replyTo: k > 0 ? ids[k - 1]! : null,
      }),
    );
    const dir = join(sandbox().dir, 'odd');
    mkdirSync(dir, { recursive: true });
    const path = join(dir, 'odd.html');
    const stream = createWriteStream(path);
    const spool = {
      count: messages.length,
      oldest: base,
      newest: base,
      async *lines() {
        for (const m of messages) yield JSON.stringify(m);
      },
      async *chunks() {},
    };
    await writeChannel(
      stream,
      createHtmlSink(),
      { provider: 'relation', channel: '<script>window.__pwned=1</script>', count: messages.length, first: null, last: null, timezone: undefined, order: 'asc' },
      spool,
      { format: 'html', skip: 0, take: messages.length, openDocument: { provider: 'relation', channels: ['<script>window.__pwned=1</script>'] }, closeDocument: true },
    );
    await new Promise<void>((resolve) => stream.end(resolve));
    await withPage(path, async ({ page }) => {
      expect(await page.locator('[data-id]').evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-id')))).toEqual(ids);
      expect(await page.title()).toBe('relation · <script>window.__pwned=1</script>');
      expect(await page.locator('script, .name *, .text *, h1 *, title *').count()).toBe(0);
      expect(await page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned)).toBeUndefined();
      // Each reply's link finds the quoted message by its anchor.
      const targets = await page.locator('a.reply').evaluateAll((links) =>
        links.map((a) => document.getElementById(decodeURIComponent((a.getAttribute('href') ?? '').slice(1)))?.getAttribute('data-id')),
      );
      expect(targets).toEqual(ids.slice(0, -1));
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
    }, { viewport: { width: 360, height: 740 } });
  });
});
