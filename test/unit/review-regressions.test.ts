/**
 * Regressions found by reading DESIGN.md against the built CLI with servers
 * that answer differently from our fixtures: numbers as strings, JSON:API
 * to-many relationships, integer ids beyond 2^53, secrets in a base URL, a
 * credential cut in half by an error excerpt, and a one-message relation
 * channel that must end quietly.
 */
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';

import { AuthError, RemoteError } from '../../src/errors.js';
import { HttpClient, parseJsonKeepingBigIntegers } from '../../src/http/client.js';
import type { Logger } from '../../src/log.js';
import { redactProfile } from '../../src/profile/redact.js';
import { discuz } from '../../src/providers/discuz.js';
import { relation } from '../../src/providers/relation.js';
import type { ProviderSettings } from '../../src/providers/types.js';
import { registerSecret } from '../../src/text/sanitize.js';
import { createSandbox, runCli } from '../helpers/cli.js';
import { listen } from '../helpers/servers.js';

const settings: ProviderSettings = { baseUrl: 'https://example.invalid', token: 't', apiKey: 'k', timezone: undefined, raw: false };
const target = { id: '1', kind: 'channel' as const };

const quiet: Logger = { verbosity: 'quiet', error() {}, warn() {}, info() {}, debug() {} };

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function serve(answer: (url: URL) => { status?: number; body: string }): Promise<string> {
  const server: Server = createServer((req, res) => {
    const { status, body } = answer(new URL(req.url ?? '/', 'http://x'));
    res.writeHead(status ?? 200, { 'content-type': 'application/json' });
    res.end(body);
  });
  return listen(server, cleanups);
}

describe('discuz: other servers’ shapes', () => {
  const message = (attachment: unknown) => ({
    type: 'dialog_message',
    id: '3',
    attributes: { user_id: '2', message_text: '', created_at: '2024-01-01T08:00:00+08:00', updated_at: null },
    relationships: { user: { data: { type: 'users', id: '2' } }, attachment },
  });
  const included = [
    { type: 'users', id: '2', attributes: { username: 'bob', avatarUrl: '' } },
    { type: 'attachments', id: '8', attributes: { url: 'https://d.example/a.png', attachment: 'a.png', fileType: 'image/png' } },
    { type: 'attachments', id: '9', attributes: { url: 'https://d.example/b.pdf', attachment: 'b.pdf', fileType: 'application/pdf' } },
  ];

  it('meta.total / pageCount as numeric strings are read as numbers', () => {
    const page = discuz.parsePage({ data: [], meta: { total: '45', pageCount: '3' } }, target);
    expect(page.total).toBe(45);
    expect(page.lastPage).toBe(3);
  });

  it('a to-many attachment relationship (array) keeps every attachment', () => {
    const body = { data: [message({ data: [{ type: 'attachments', id: '8' }, { type: 'attachments', id: '9' }] })], included };
    const page = discuz.parsePage(body, target);
    const { message: m } = discuz.normalize(page.items[0], target, settings, page);
    expect(m.attachments).toEqual([
      { url: 'https://d.example/a.png', name: 'a.png', type: 'image/png' },
      { url: 'https://d.example/b.pdf', name: 'b.pdf', type: 'application/pdf' },
    ]);
    expect(m.type).toBe('image');
  });
});

describe('JSON with integers beyond 2^53', () => {
  it('keeps them exact, as strings, so two ids that round alike stay two', () => {
    const parsed = parseJsonKeepingBigIntegers('{"a":[9007199254740993,9007199254740992,-12345678901234567890,12,9007199254740991,1.5e3,"9007199254740993x"],"s":"x\\"9007199254740993"}');
    expect(parsed).toEqual({ a: ['9007199254740993', '9007199254740992', '-12345678901234567890', 12, 9007199254740991, 1500, '9007199254740993x'], s: 'x"9007199254740993' });
  });

  it('the HTTP client hands the exact ids to the provider', async () => {
    const url = await serve(() => ({
      body: '{"code":"0","desc":"ok","data":[{"id":1578671129496899587,"createAt":"1000"},{"id":1578671129496899586,"createAt":"1000"}]}',
    }));
    const http = new HttpClient({ timeoutMs: 2000, retries: 0, rate: 1000, retryBaseMs: 5, logger: quiet });
    cleanups.push(() => http.close());
    // parse and normalize inside the client's parse step, as the walkers do (walk/fetch-page.ts):
    // an id JSON.parse rounded makes the client parse the body again, exactly
    const ids = await http.getJson(
      { url: new URL(`${url}/api/v1/message/list`), headers: {} },
      (body) => {
        const page = relation.parsePage(body, target);
        return page.items.map((item) => relation.normalize(item, target, settings, page).message.id);
      },
      { label: 't' },
    );
    expect(ids).toEqual(['1578671129496899587', '1578671129496899586']);
  });
});

describe('errors name the request; excerpts never show part of a credential', () => {
  it('an API error code (relation 10120) names the URL', async () => {
    const url = await serve(() => ({ body: '{"code":"10120","desc":"permission denied","data":null}' }));
    const http = new HttpClient({ timeoutMs: 2000, retries: 0, rate: 1000, retryBaseMs: 5, logger: quiet });
    cleanups.push(() => http.close());
    const error = await http
      .getJson({ url: new URL(`${url}/api/v1/message/list?channelUuid=C9`), headers: {} }, (body) => relation.parsePage(body, target), { label: 't' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect((error as Error).message).toContain(`${url}/api/v1/message/list?channelUuid=C9`);
  });

  it('a body tail that starts inside a registered secret does not show the rest of it', async () => {
    const secret = 'REVIEWSECRET-0123456789';
    registerSecret(secret);
    const url = await serve(() => ({ status: 400, body: `bad credential ${secret} sent as token=${secret}` }));
    const http = new HttpClient({ timeoutMs: 2000, retries: 0, rate: 1000, retryBaseMs: 5, logger: quiet });
    cleanups.push(() => http.close());
    const error = await http.getJson({ url: new URL(url), headers: {} }, (body) => body, { label: 't' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteError);
    expect((error as Error).message).not.toMatch(/0123456789/);
  });
});

describe('profile show / list: a base URL with credentials is redacted', () => {
  it('drops user:password and credential-looking query values', () => {
    const shown = redactProfile({ provider: 'discuz', baseUrl: 'https://u:pw-secret@d.example/?token=q-secret' });
    expect(JSON.stringify(shown)).not.toMatch(/pw-secret|q-secret/);
    expect(redactProfile({ provider: 'discuz', baseUrl: 'https://d.example/root' }).baseUrl).toBe('https://d.example/root');
  });
});

describe('relation: a channel with one message', () => {
  it('ends quietly: no "stepping past" warning, no extra requests', async () => {
    const hits: string[] = [];
    const url = await serve((u) => {
      hits.push(u.search);
      const max = Number(u.searchParams.get('maxCreateAt'));
      const data = max >= 1704067200000 ? [{ id: '1', createAt: '1704067200000', type: 'TEXT', from: 'a', fromName: 'A', content: 'hi' }] : [];
      return { body: JSON.stringify({ code: '0', desc: 'success', data }) };
    });
    const sandbox = createSandbox();
    cleanups.push(() => sandbox.cleanup());
    const result = await runCli(['dump', '--provider', 'relation', '--channel', 'C1', '--base-url', url, '--no-progress'], { env: sandbox.env() });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).not.toMatch(/warning/);
    expect(hits.length).toBeLessThanOrEqual(2);
  });
});

describe('-o into a directory that does not exist', () => {
  it('is a usage error (exit 2) decided before any request, not an internal error', async () => {
    let hits = 0;
    const url = await serve(() => {
      hits++;
      return { body: '{"code":"0","desc":"success","data":[]}' };
    });
    const sandbox = createSandbox();
    cleanups.push(() => sandbox.cleanup());
    const result = await runCli(
      ['dump', '--provider', 'relation', '--channel', 'C1', '--base-url', url, '-o', `${sandbox.dir}/missing/out.jsonl`, '--no-progress'],
      { env: sandbox.env() },
    );
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).not.toMatch(/internal error/);
    expect(result.stderr).toMatch(/missing/);
    expect(hits).toBe(0);
  });
});
