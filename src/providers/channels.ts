/**
 * The `channels` part (DESIGN.md 4c): how to list the conversations the
 * credential can see. Each listing is a stream of the same parts as messages
 * (requester, paginator, record selector, error policy), walked by the same
 * walkers; its records become listed channels through a record map.
 */
import type { Message } from '../message.js';
import type { Definition } from './definition.js';
import type { ExprScope } from './expression.js';
import { compileRecordMap } from './field-map.js';
import { truthy } from './field-values.js';
import type { Requester } from './requester.js';
import { compileStream } from './stream.js';
import type { ChannelLister, ChannelTarget, Entry, ListedChannel, Provider, ProviderPage, ResponseMeta } from './types.js';

type Listing = Exclude<NonNullable<Definition['channels']>, unknown[]>;

/** A listing without paging is one request: a next token that is never there. */
const ONE_REQUEST: Definition['paging'] = { type: 'cursor', param: 'cursor', from: { body: '`null`' } };

export function compileChannels(name: string, definition: Definition, requester: Requester): ChannelLister {
  const spec = definition.channels!;
  const listings = Array.isArray(spec) ? spec : [spec];
  return {
    listings: listings.map((listing, index) =>
      compileListing(name, definition, requester, listing, Array.isArray(spec) ? `providers.${name}.channels.${index}` : `providers.${name}.channels`),
    ),
  };
}

function compileListing(name: string, definition: Definition, requester: Requester, spec: Listing, where: string): ChannelLister['listings'][number] {
  const stream = compileStream<ChannelTarget>(
    {
      request: spec.request,
      paging: spec.paging ?? ONE_REQUEST,
      records: spec.records,
      filter: spec.filter,
      lookups: spec.lookups,
      end: spec.end,
      envelope: spec.envelope ?? definition.envelope,
      httpErrors: spec.httpErrors ?? definition.httpErrors,
    },
    requester,
    {
      template: () => spec.request,
      // a listing per channel (forEach) names that channel as {channel}
      values: (target) => (target.id === '' ? {} : { channel: target.id }),
      label: (target) => `${name} channel list${target.id === '' ? '' : ` of ${definition.noun} ${target.id}`}`,
    },
  );
  const f = spec.fields;
  const kind = typeof f.kind === 'object' ? f.kind : f.kind === undefined ? undefined : { path: f.kind };
  const toChannel = compileRecordMap(
    {
      id: { path: f.id, as: 'id', required: true },
      name: { path: f.name ?? '`null`', as: 'text' },
      kind: { path: kind?.path ?? '`null`', as: 'text' },
      parent: { path: f.parent ?? '`null`', as: 'id' },
      archived: { path: f.archived ?? '`false`', as: 'flag', default: false },
      readable: { path: f.readable ?? '`true`', as: 'flag', default: true },
    },
    stream.selector.compile,
    `${where}.fields`,
  );
  const kindOf = (value: string | null): string | null => {
    if (value === null) return kind?.default ?? null;
    return kind?.map?.[value] ?? (kind?.map && kind.default !== undefined ? kind.default : value);
  };
  const forEach = spec.forEach === undefined ? undefined : stream.selector.compile(spec.forEach);
  const container = spec.container === undefined ? undefined : stream.selector.compile(spec.container);
  const { selector: _selector, describeStatus, parsePage, defaultPageSize, maxPageSize, takesPageSize, ...paging } = stream;
  const provider = {
    ...paging,
    name,
    summary: `${name} channel list`,
    definition,
    order: 'oldest-first' as const,
    credentials: requester.credentials,
    defaultBaseUrl: definition.baseUrl,
    defaultPageSize,
    maxPageSize,
    takesPageSize,
    parsePage: (body: unknown, target: ChannelTarget, response?: ResponseMeta): ProviderPage => parsePage(body, target, response),
    normalize(item: unknown, _target: ChannelTarget, _settings: unknown, page: ProviderPage): Entry {
      const read = toChannel(item, page.context as ExprScope | undefined);
      const channel: ListedChannel = { ...read, kind: kindOf(read.kind), raw: item };
      if (container && truthy(container(item, page.context as ExprScope | undefined))) channel.container = true;
      // the walkers dedupe by the message id and order by time: a channel is only an id to them
      return { time: 0, message: { id: channel.id } as Message, channel };
    },
    ...(describeStatus ? { describeStatus } : {}),
  } as unknown as Provider;
  return { provider, ...(forEach ? { forEach: (record: unknown) => truthy(forEach(record, undefined)) } : {}) };
}
