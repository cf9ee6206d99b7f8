/**
 * A real headless Chromium for the HTML tests (not a DOM emulation): the
 * browser ships inside the @sparticuz/chromium npm package (unpacked to the
 * temp dir on first use), driven by playwright-core. `npm ci` brings both;
 * there is no download step.
 */
import sparticuz from '@sparticuz/chromium';
import { afterAll, beforeAll } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

// The package's Lambda flags switch off protections a page under test must
// keep (same-origin policy, mixed content checks): our pages are checked with
// them on. --single-process makes closing a context take the browser down.
const UNSAFE_FLAGS = new Set(['--disable-web-security', '--allow-running-insecure-content', '--disable-site-isolation-trials', '--single-process']);

export async function launchBrowser(): Promise<Browser> {
  const args = sparticuz.args.filter((arg) => !UNSAFE_FLAGS.has(arg) && !arg.startsWith('--headless'));
  return chromium.launch({
    executablePath: await sparticuz.executablePath(),
    // root in CI: no sandbox; and nothing of Chromium's own reaching out (updates, safe browsing, metrics)
    args: [...args, '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    headless: true,
  });
}

export function useBrowser(): () => Browser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
  });
  return () => {
    if (browser === undefined) throw new Error('browser not started');
    return browser;
  };
}

export interface OpenedPage {
  page: Page;
  context: BrowserContext;
  /** every request the page made, the page itself first */
  requests: string[];
  /** console messages and page errors (a CSP violation shows up here) */
  console: string[];
  close(): Promise<void>;
}

/** Opens a file:// URL in a fresh context, recording every request and console line. */
export async function openPage(
  browser: Browser,
  url: string,
  options: { colorScheme?: 'light' | 'dark'; viewport?: { width: number; height: number } } = {},
): Promise<OpenedPage> {
  const context = await browser.newContext({
    colorScheme: options.colorScheme ?? 'light',
    viewport: options.viewport ?? { width: 1000, height: 800 },
    javaScriptEnabled: true,
  });
  const page = await context.newPage();
  const requests: string[] = [];
  const consoleLines: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  page.on('console', (message) => consoleLines.push(`${message.type()}: ${message.text()}`));
  page.on('pageerror', (error) => consoleLines.push(`pageerror: ${error.message}`));
  await page.goto(url, { waitUntil: 'load' });
  return { page, context, requests, console: consoleLines, close: () => context.close() };
}
