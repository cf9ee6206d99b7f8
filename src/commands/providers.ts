import { UsageError } from '../errors.js';
import { listAll } from '../dump/all-channels.js';
import { HttpClient, LossyNumberError } from '../http/client.js';
import { createLogger, type Logger } from '../log.js';
import { resolveProfile, type ProfileFlags } from '../profile/resolve.js';
import { loadConfig, resolveConfigPath } from '../profile/store.js';
import type { DefinitionInput } from '../providers/definition.js';
import { firstRequest } from '../providers/engine.js';
import { unfilledPlaceholders } from '../providers/requester.js';
import { BUILTIN_DEFINITIONS, getProvider, isBuiltin } from '../providers/registry.js';
import type { ChannelTarget, Provider, ProviderSettings } from '../providers/types.js';
import { redactUrl, registerSecret, sanitizeForTerminal } from '../text/sanitize.js';
import { checkCredentialValues, isLoopback } from '../dump/plan.js';
import type { Message } from '../message.js';
import type { ThreadRef } from '../providers/replies.js';

export interface ProvidersIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

function describePaging(provider: Provider): string {
  const order = provider.order === 'newest-first' ? 'newest first' : 'oldest first';
  const paging = provider.definition.paging;
  switch (paging.type) {
    case 'time':
      return `time cursor (${paging.param}, ${paging.inclusive ? 'inclusive' : 'exclusive'}), ${order}`;
    case 'pages':
      return provider.takesPageSize ? `page numbers, ${order}, pages in parallel` : `page numbers (fixed size), ${order}, pages in parallel`;
    case 'offset':
      return `offset + limit, ${order}, one page at a time`;
    case 'cursor':
      return `next token (${'header' in paging.from ? `header ${paging.from.header}` : paging.from.body}), ${order}`;
    case 'link':
      return `next link (${'header' in paging.from ? `header ${paging.from.header}` : paging.from.body}), ${order}`;
  }
}

export function listProviders(stdout: NodeJS.WritableStream, json: boolean, io?: { config?: string | undefined; env: NodeJS.ProcessEnv; stderr: NodeJS.WritableStream }): void {
  const definitions = io ? (loadConfig(resolveConfigPath(io.config, io.env), (line) => io.stderr.write(`chat-export: ${line}\n`)).providers ?? {}) : {};
  const rows: Array<Record<string, unknown>> = [];
  for (const name of [...Object.keys(BUILTIN_DEFINITIONS), ...Object.keys(definitions)]) {
    let provider: Provider;
    try {
      provider = getProvider(name, definitions);
    } catch (error) {
      // One broken definition is listed as such; the rest still show.
      rows.push({ name, source: 'config', invalid: (error as Error).message.split('\n').slice(1) });
      continue;
    }
    rows.push({
      name: provider.name,
      source: isBuiltin(name) ? 'built-in' : 'config',
      summary: provider.summary,
      auth: provider.credentials.how,
      token: provider.credentials.token,
      apiKey: provider.credentials.apiKey,
      paging: describePaging(provider),
      defaultBaseUrl: provider.defaultBaseUrl ?? null,
      defaultPageSize: provider.defaultPageSize,
      timezone: provider.definition.timezone ? `${provider.definition.timezone} (naive times; --timezone)` : 'in the data',
      fixedPageSize: !provider.takesPageSize,
    });
  }
  if (json) {
    stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  for (const row of rows) {
    if (row.invalid) {
      stdout.write(`${row.name} (config: invalid definition)\n${(row.invalid as string[]).map((line) => `  ${line}\n`).join('')}\n`);
      continue;
    }
    stdout.write(
      `${row.name}${row.source === 'config' ? ' (config)' : ''}\n` +
        `  ${row.summary}\n` +
        `  auth:      ${row.auth} (token ${row.token}${row.apiKey !== 'unused' ? `, API key ${row.apiKey}` : ''}; CHAT_EXPORT_TOKEN${row.apiKey !== 'unused' ? ', CHAT_EXPORT_API_KEY' : ''})\n` +
        `  paging:    ${row.paging}\n` +
        `  base URL:  ${row.defaultBaseUrl ?? '(none: self-hosted, --base-url required)'}\n` +
        `  page size: ${row.defaultPageSize}${row.fixedPageSize ? ' (fixed by the server)' : ''}\n` +
        `  times:     ${row.timezone}\n\n`,
    );
  }
}

/** `providers show NAME`: the definition as JSON, ready to copy into the config and edit. */
export function showProvider(name: string, io: ProvidersIo & { config?: string | undefined }): void {
  const config = loadConfig(resolveConfigPath(io.config, io.env), (line) => io.stderr.write(`chat-export: ${line}\n`));
  const definitions = config.providers ?? {};
  // a profile's name shows its provider, as `providers check` and `dump --provider` read it (unknown = the same error)
  const provider = resolveProfile(name, {}, io.env, config, () => ({ baseUrl: undefined })).provider;
  if (provider !== name) io.stderr.write(`chat-export: profile "${name}" uses provider "${provider}"\n`);
  let definition: DefinitionInput | unknown;
  if (isBuiltin(provider)) definition = BUILTIN_DEFINITIONS[provider];
  else {
    getProvider(provider, definitions); // invalid = exit 2 with every problem
    definition = definitions[provider];
  }
  io.stdout.write(`${JSON.stringify(definition, null, 2)}\n`);
}

export interface CheckOptions extends ProfileFlags {
  channel?: string | undefined;
  peer?: string | undefined;
  config?: string | undefined;
  allowInsecure?: boolean | undefined;
  count?: number | undefined;
}

/**
 * `providers check NAME --channel ID`: one request, then what the definition
 * made of it — the envelope, the records, the first messages normalized and
 * the fields that came out empty in every one of them.
 */
export async function checkProvider(name: string, options: CheckOptions, io: ProvidersIo): Promise<void> {
  const logger = createLogger('normal', io.stderr);
  const config = loadConfig(resolveConfigPath(options.config, io.env), (line) => logger.warn(line));
  const definitions = config.providers ?? {};
  const profile = resolveProfile(name, options, io.env, config, (provider) => ({ baseUrl: getProvider(provider, definitions).defaultBaseUrl }));
  registerSecret(profile.token);
  registerSecret(profile.apiKey);
  const provider = getProvider(profile.provider, definitions);
  for (const found of unfilledPlaceholders(provider.definition.request)) {
    logger.warn(`${provider.name}: ${found} is sent as written: placeholders are {channel}, {peer}, {page}`);
  }
  const listing = !options.channel && !options.peer && provider.channels !== undefined;
  if (!options.channel && !options.peer && !listing) throw new UsageError('providers check needs --channel ID (or --peer ID)');
  if (!profile.baseUrl) throw new UsageError(`${provider.name} has no default API address`, { hint: 'give --base-url https://your.site' });
  let base: URL;
  try {
    base = new URL(profile.baseUrl);
  } catch {
    throw new UsageError(`--base-url ${JSON.stringify(redactUrl(profile.baseUrl))} is not a URL`);
  }
  if (base.protocol === 'http:' && !isLoopback(base.hostname) && !options.allowInsecure) {
    throw new UsageError(`refusing to send credentials over plain http:// to ${base.host}`, { hint: 'use https://, or pass --allow-insecure' });
  }
  if (base.username !== '' || base.password !== '') {
    throw new UsageError('--base-url carries credentials (user:password@): chat-export does not send them', {
      hint: `remove them from ${redactUrl(base)} and give the credential with CHAT_EXPORT_TOKEN, a profile's tokenEnv, or --token`,
    });
  }
  checkCredentialValues(profile);
  const settings: ProviderSettings = { baseUrl: profile.baseUrl, token: profile.token, apiKey: profile.apiKey, timezone: profile.timezone, raw: false };
  // without --channel, a definition that lists channels is checked by listing them
  if (listing) return checkChannels(provider, settings, profile, options, io, logger);
  const target: ChannelTarget = options.peer ? { id: options.peer, kind: 'peer' } : { id: options.channel!, kind: 'channel' };
  const request = firstRequest(provider, settings, target, profile.pageSize ?? provider.defaultPageSize);
  const http = new HttpClient({ timeoutMs: profile.timeout, retries: 0, rate: profile.rate, logger, env: io.env });
  const label = `${provider.name} ${target.kind === 'peer' ? 'peer' : 'channel'} ${target.id}`;
  try {
    // the directory first: the messages' names may come from it ($people)
    if (provider.people) io.stdout.write(await checkPeople(provider, settings, target, http));
    const report = await http.getJson(
      request,
      (body, response) => {
        const page = provider.parsePage(body, target, response);
        const messages = page.items.map((item, index) => {
          try {
            const entry = provider.normalize(item, target, settings, page);
            return { message: entry.message, thread: entry.thread };
          } catch (error) {
            // an id beyond 2^53: the client re-parses the body exactly and calls this again, as dump does
            if (error instanceof LossyNumberError) throw error;
            return { error: `record ${index}: ${(error as Error).message}` };
          }
        });
        return { page, messages };
      },
      { label, describeStatus: provider.describeStatus },
    );
    const { page, messages } = report;
    const ok = messages.flatMap((m) => ('message' in m && m.message ? [m.message] : []));
    const failed = messages.flatMap((m) => ('error' in m && m.error ? [sanitizeForTerminal(m.error)] : []));
    const empty = emptyFields(ok);
    const shown = Math.max(0, options.count ?? 3);
    io.stdout.write(
      [
        `GET ${redactUrl(request.url)}`,
        `records: ${page.records ?? page.items.length}, messages: ${page.items.length}${page.records !== undefined && page.records !== page.items.length ? ` (the filter kept ${page.items.length})` : ''}`,
        `end signals: total ${page.total ?? '-'}, last page ${page.lastPage ?? '-'}, per page ${page.perPage ?? '-'}, has more ${page.hasNext ?? '-'}${page.next !== undefined ? `, next ${page.next === null ? '(none)' : JSON.stringify(sanitizeForTerminal(page.next))}` : ''}`,
        `empty in every message: ${empty.length > 0 ? empty.join(', ') : '(none)'}`,
        ...failed.map((line) => `could not normalize ${line}`),
        `first ${Math.min(shown, ok.length)} of ${ok.length} normalized:`,
        ...ok.slice(0, shown).map((message) => JSON.stringify(message)),
      ].join('\n') + '\n',
    );
    const parents = messages.flatMap((m) => ('thread' in m && m.thread ? [m.thread] : []));
    if (provider.replies) io.stdout.write(await checkThread(provider, settings, target, parents, http, shown));
    if (failed.length > 0) {
      throw new UsageError(`${label}: ${failed.length} of ${messages.length} records do not fit the definition's field map (see above)`, {
        hint: 'fix the field expressions; chat-export dump would retry and then fail on this page',
      });
    }
  } finally {
    await http.close();
  }
}

/** `providers check NAME` of a definition with a `channels` part: the whole list walked, summed up, the first few shown. */
async function checkChannels(provider: Provider, settings: ProviderSettings, profile: { timeout: number; rate: number; pageSize?: number | undefined; concurrency: number }, options: CheckOptions, io: ProvidersIo, logger: Logger): Promise<void> {
  const http = new HttpClient({ timeoutMs: profile.timeout, retries: 0, rate: profile.rate, logger, env: io.env });
  try {
    const listed = await listAll({ provider, settings, http, logger, pageSize: profile.pageSize, concurrency: 1 });
    const kinds = new Map<string, number>();
    for (const c of listed) kinds.set(c.kind ?? '(none)', (kinds.get(c.kind ?? '(none)') ?? 0) + 1);
    const shown = Math.max(0, options.count ?? 3);
    const empty = (['name', 'kind', 'parent'] as const).filter((key) => listed.every((c) => c[key] === null));
    io.stdout.write(
      [
        `channels listed: ${listed.length} (${[...kinds].map(([kind, n]) => `${sanitizeForTerminal(kind)} ${n}`).join(', ') || 'none'}); not readable: ${listed.filter((c) => !c.readable).length}; archived: ${listed.filter((c) => c.archived).length}`,
        `empty in every channel: ${empty.length > 0 ? empty.join(', ') : '(none)'}`,
        `first ${Math.min(shown, listed.length)}:`,
        ...listed.slice(0, shown).map((c) => JSON.stringify({ id: c.id, name: c.name, kind: c.kind, parent: c.parent, archived: c.archived, readable: c.readable })),
      ].join('\n') + '\n',
    );
  } finally {
    await http.close();
  }
}

/** `people`: the directory's first page, what its field map made of it; sets `$people` for the messages' names. */
async function checkPeople(provider: Provider, settings: ProviderSettings, target: ChannelTarget, http: HttpClient): Promise<string> {
  const directory = provider.people!.provider;
  const request = firstRequest(directory, settings, target, directory.defaultPageSize);
  const people = await http.getJson(
    request,
    (body, response) => {
      const page = directory.parsePage(body, target, response);
      return page.items.map((item) => directory.normalize(item, target, settings, page).person!);
    },
    { label: `${provider.name} people directory`, describeStatus: directory.describeStatus },
  );
  if (provider.run) provider.run.values = { ...provider.run.values, people: Object.fromEntries(people.map((p) => [p.id, p.raw])) };
  const named = people.filter((p) => p.name !== null).length;
  return [
    `people: GET ${redactUrl(request.url)}`,
    `people on the first page: ${people.length}, named ${named}${people[0] ? `; first ${JSON.stringify({ id: people[0].id, name: people[0].name, avatar: people[0].avatar })}` : ''}`,
    '',
  ].join('\n');
}

/** `replies`: which records of the page start a thread, and one request of the first thread. */
async function checkThread(provider: Provider, settings: ProviderSettings, target: ChannelTarget, parents: ThreadRef[], http: HttpClient, shown: number): Promise<string> {
  const replies = provider.replies!;
  const parent = parents[0];
  if (parent === undefined) return 'threads: no record on this page meets replies.when\n';
  const thread = replies.threadProvider(parent);
  const request = firstRequest(thread, settings, target, thread.defaultPageSize);
  const found = await http.getJson(
    request,
    (body, response) => {
      const page = thread.parsePage(body, target, response);
      return page.items.map((item) => thread.normalize(item, target, settings, page).message);
    },
    { label: replies.label(target, parent), describeStatus: thread.describeStatus },
  );
  const own = found.filter((m) => m.id !== parent.id);
  return [
    `threads: ${parents.length} records on this page meet replies.when (reply count ${JSON.stringify(parent.count)}, latest ${JSON.stringify(parent.latest)} for the first)`,
    `GET ${redactUrl(request.url)}`,
    `replies on its first page: ${own.length}${own.length < found.length ? ' (the parent, repeated, is dropped)' : ''}`,
    ...own.slice(0, shown).map((message) => JSON.stringify(message)),
    '',
  ].join('\n');
}

/** Normalized fields that no message of the answer filled. */
function emptyFields(messages: Message[]): string[] {
  const fields: Array<[string, (m: Message) => unknown]> = [
    ['sender.id', (m) => m.sender.id],
    ['sender.name', (m) => m.sender.name],
    ['sender.avatar', (m) => m.sender.avatar],
    ['text', (m) => m.text],
    ['replyTo', (m) => m.replyTo],
    ['editedAt', (m) => m.editedAt],
    ['deleted', (m) => m.deleted || null],
    ['attachments', (m) => (m.attachments.length > 0 ? m.attachments : null)],
  ];
  if (messages.length === 0) return fields.map(([key]) => key);
  return fields.filter(([, get]) => messages.every((m) => { const v = get(m); return v === null || v === '' || v === undefined; })).map(([key]) => key);
}
