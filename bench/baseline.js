#!/usr/bin/env node
// The bare work of an export, for the throughput figure: fetch the same pages
// the CLI fetches, one after another over one keep-alive connection (undici
// `request`), JSON.parse each body and JSON.stringify each item, written to
// nothing. No validation, normalization, dedupe window, ordering or output.
//
//   node bench/baseline.js PROVIDER BASE_URL CHANNEL PAGE_SIZE
// prints {"messages":N,"requests":R,"ms":T,"cpuMs":C,"maxRssKiB":K,"bytes":B}
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';

const [provider, base, channel, sizeText] = process.argv.slice(2);
const size = Number(sizeText);
const agent = new Agent({ keepAliveTimeout: 10_000, connections: 1 });
let requests = 0;
let stringified = 0; // keeps JSON.stringify's result observable

async function get(path, headers = {}) {
  requests++;
  const { statusCode, body } = await request(`${base}${path}`, { method: 'GET', headers, dispatcher: agent });
  const text = await body.text();
  if (statusCode !== 200) throw new Error(`HTTP ${statusCode} from ${path}: ${text.slice(0, 200)}`);
  return JSON.parse(text);
}

function emit(items) {
  for (const item of items) stringified += JSON.stringify(item).length;
}

const started = performance.now();
let messages = 0;
if (provider === 'relation') {
  // The same inclusive cursor walk as the CLI: next maxCreateAt = oldest createAt,
  // ending on the answer that adds nothing new (the CLI's extra request too).
  let cursor = Number.MAX_SAFE_INTEGER;
  let previous = new Set();
  for (;;) {
    const q = `channelUuid=${encodeURIComponent(channel)}&maxCreateAt=${cursor}&limit=${size}`;
    const page = await get(`/api/v1/message/list?${q}`, { ApiKey: 'y', Authorization: 'Bearer x' });
    const items = page.data ?? [];
    emit(items);
    let fresh = 0;
    for (const item of items) if (!previous.has(item.id)) fresh++;
    messages += fresh;
    if (items.length === 0 || fresh === 0) break;
    previous = new Set(items.map((item) => item.id));
    cursor = Number(items[items.length - 1].createAt);
  }
} else if (provider === 'discuz') {
  for (let number = 1; ; number++) {
    const q = `filter[dialog_id]=${encodeURIComponent(channel)}&include=user,attachment&page[number]=${number}&page[limit]=${size}&sort=-createdAt`;
    const page = await get(`/api/dialog/message?${q}`, { Authorization: 'Bearer x' });
    emit(page.data);
    messages += page.data.length;
    if (page.data.length < size || !page.links?.next) break;
  }
} else if (provider === 'dishawang') {
  for (let number = 1; ; number++) {
    const page = (await get(`/api/v1/im/${encodeURIComponent(channel)}/message/${number}`, { token: 'x' })).data;
    emit(page.data);
    messages += page.data.length;
    if (page.data.length === 0 || number >= page.last_page) break;
  }
} else if (provider === 'tokenchat') {
  // Slack-style: an opaque next cursor, newest first; events between the messages are not messages.
  let cursor = '';
  for (;;) {
    const q = `channel=${encodeURIComponent(channel)}&limit=${size}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const page = await get(`/api/conversations.history?${q}`, { Authorization: 'Bearer x' });
    const items = page.messages.filter((item) => item.type === 'message');
    emit(items);
    messages += items.length;
    cursor = page.response_metadata?.next_cursor ?? '';
    if (!page.has_more || !cursor) break;
  }
} else {
  throw new Error(`unknown provider ${provider}`);
}
const ms = performance.now() - started;
await agent.close();
const usage = process.resourceUsage();
const cpuMs = (usage.userCPUTime + usage.systemCPUTime) / 1000;
process.stdout.write(`${JSON.stringify({ messages, requests, ms, cpuMs, maxRssKiB: usage.maxRSS, bytes: stringified })}\n`);
