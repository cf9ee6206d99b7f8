/**
 * A server that states its request budget in headers (Discord's per-route X-RateLimit-*) never has to
 * refuse a run whose definition names them; a 429's JSON `retry_after` is honoured like Retry-After.
 * Against the Discord-shaped fixture, by definition alone (test/helpers/guildchat.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { TOKEN, runCli, type RunResult } from '../helpers/cli.js';
import { useSandbox, useServer } from '../helpers/fixtures.js';
import { exportProblems, linesOf } from '../helpers/ground-truth.js';
import { GUILDCHAT, guildchat, writeDefinitions } from '../helpers/guildchat.js';

const explain = (r: RunResult) => `exit ${r.code}\n${r.stderr.slice(0, 2000)}`;

describe('rate-limit headers obeyed', () => {
  const server = useServer({
    auth: { token: TOKEN },
    latencyMs: 2,
    discord: {
      // two requests per channel every 300 ms: a run that ignored the headers would be refused at once
      rateLimit: { limit: 2, windowMs: 300 },
      channels: [
        { name: 'general', count: 430, ties: [{ at: 200, size: 9 }] },
        { name: 'random', count: 380, hostile: true },
        { name: 'dev', count: 350 },
        { name: 'ops', count: 301 },
      ],
    },
  });
  const sandbox = useSandbox();

  it('four channels at once: every message exact (snowflakes above 2^53 kept), and not one 429', async () => {
    writeDefinitions(sandbox(), { [GUILDCHAT]: guildchat });
    const ids = server().discord!.channels().map((c) => c.id);
    const out = join(sandbox().dir, 'out') + '/';
    server().resetLog();
    const result = await runCli(
      ['dump', '--provider', GUILDCHAT, ...ids.flatMap((id) => ['--channel', id]), '--base-url', `${server().url}/api/v10`, '-o', out, '--concurrency', '4', '--rate', '1000', '--no-progress'],
      { env: sandbox().env(), timeoutMs: 60_000 },
    );
    expect(result.code, explain(result)).toBe(0);
    for (const id of ids) {
      const messages = server().messages('discord', id);
      expect(messages.every((m) => BigInt(m.id) > 2n ** 53n)).toBe(true);
      const lines = linesOf(readFileSync(join(out, `${GUILDCHAT}-${id}.jsonl`), 'utf8'));
      expect(exportProblems({ provider: 'discord', name: GUILDCHAT, channel: id, lines, start: messages, end: messages, order: 'asc' })).toEqual([]);
    }
    const statuses = server().log.map((entry) => entry.status);
    expect(statuses.filter((status) => status === 429)).toEqual([]);
    // the budget was spent and waited for: more requests than one window allows went to each channel
    for (const id of ids) expect(server().log.filter((entry) => entry.channel === id).length).toBeGreaterThan(2);
    // channels were walked side by side: one channel's spent bucket held no other
    expect(server().maxInFlight('discord')).toBeGreaterThan(1);
  });
});

describe("a 429's JSON retry_after, with no Retry-After header", () => {
  const server = useServer({
    auth: { token: TOKEN },
    discord: {
      // the window outlasts any backoff the client would pick on its own (CHAT_EXPORT_RETRY_BASE_MS is 10 here),
      // and three requests of a loaded machine
      rateLimit: { limit: 2, windowMs: 4000, retryAfterHeader: false },
      channels: [{ name: 'general', count: 250 }],
    },
  });
  const sandbox = useSandbox();

  it('is waited for like Retry-After: one retry is enough, the wait is said on stderr', async () => {
    // a definition that does not name the headers: the client finds out from the 429
    const { rateLimit: _ignored, ...definition } = guildchat;
    writeDefinitions(sandbox(), { [GUILDCHAT]: definition });
    const id = server().discord!.channels()[0]!.id;
    server().resetLog();
    const result = await runCli(
      ['dump', '--provider', GUILDCHAT, '--channel', id, '--base-url', `${server().url}/api/v10`, '--retries', '1', '--rate', '1000', '--no-progress'],
      { env: sandbox().env(), timeoutMs: 60_000 },
    );
    expect(result.code, explain(result)).toBe(0);
    const messages = server().messages('discord', id);
    expect(exportProblems({ provider: 'discord', name: GUILDCHAT, channel: id, lines: linesOf(result.stdout), start: messages, end: messages, order: 'asc' })).toEqual([]);
    const refused = server().log.filter((entry) => entry.status === 429);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.headers).toBeDefined();
    expect(result.stderr).toMatch(/rate limited, waiting [1-4] s/);
  });
});
