/**
 * The `people` part (DESIGN.md 4c): a directory of users (Slack's
 * users.list), a stream of the same parts as messages, walked once per run by
 * the same walkers. Its records become `$people` (keyed by `fields.id`) in
 * every field expression, so a definition whose messages carry only a user id
 * names them: `lookup($people, user).profile.display_name`.
 */
import type { Message } from '../message.js';
import type { Definition } from './definition.js';
import type { ExprScope } from './expression.js';
import { compileRecordMap } from './field-map.js';
import type { Requester } from './requester.js';
import { compileStream } from './stream.js';
import type { ChannelTarget, Entry, Provider, ProviderPage, ResponseMeta } from './types.js';

/** One person as the archive's `people` table keeps them. */
export interface Person {
  id: string;
  name: string | null;
  avatar: string | null;
  /** the directory's record as served: what `$people` expressions read */
  raw: unknown;
}

export interface PeoplePart {
  /** The walkers' provider for the directory: each entry carries a `person`, no message. */
  provider: Provider;
}

export function compilePeople(name: string, definition: Definition, requester: Requester): PeoplePart {
  const spec = definition.people!;
  const stream = compileStream<null>(
    {
      request: spec.request,
      paging: spec.paging,
      records: spec.records,
      filter: spec.filter,
      lookups: spec.lookups,
      end: spec.end,
      envelope: spec.envelope ?? definition.envelope,
      httpErrors: spec.httpErrors ?? definition.httpErrors,
    },
    requester,
    { template: () => spec.request, values: () => ({}), label: () => `${name} people directory` },
  );
  const f = spec.fields;
  const toPerson = compileRecordMap(
    {
      id: { path: f.id, as: 'id', required: true },
      name: { path: f.name ?? '`null`', as: 'text' },
      avatar: { path: f.avatar ?? '`null`', as: 'text' },
    },
    stream.selector.compile,
    `providers.${name}.people.fields`,
  );
  const { selector: _selector, describeStatus, parsePage, defaultPageSize, maxPageSize, takesPageSize, ...paging } = stream;
  const provider = {
    ...paging,
    name,
    summary: `${name} people`,
    definition,
    order: 'oldest-first' as const,
    credentials: requester.credentials,
    defaultBaseUrl: definition.baseUrl,
    defaultPageSize,
    maxPageSize,
    takesPageSize,
    parsePage: (body: unknown, _target: ChannelTarget, response?: ResponseMeta): ProviderPage => parsePage(body, null, response),
    normalize(item: unknown, _target: ChannelTarget, _settings: unknown, page: ProviderPage): Entry {
      const person = toPerson(item, page.context as ExprScope | undefined);
      // the walkers dedupe by the message id and order by time: a person is only an id to them
      return { time: 0, message: { id: person.id } as Message, person: { ...person, raw: item } };
    },
    ...(describeStatus ? { describeStatus } : {}),
  } as unknown as Provider;
  return { provider };
}
