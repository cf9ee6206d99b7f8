/**
 * The one engine: a validated definition (./definition.ts) compiled into the
 * provider the walkers drive. It composes the parts (Airbyte's declarative
 * components): the requester (./requester.ts), paginator (./paginator.ts),
 * record selector (./record-selector.ts) and end/error policy
 * (./end-policy.ts) make the message stream (./stream.ts); the field map
 * (./field-map.ts) normalizes its records. Every expression is compiled
 * here, once per definition; normalize runs per message and allocates only
 * the message.
 */
import { UsageError } from '../errors.js';
import type { Definition } from './definition.js';
import type { ExprScope } from './expression.js';
import { compileMessageMap } from './field-map.js';
import { representable } from './field-values.js';
import { compilePeople } from './people.js';
import type { RunScope } from './record-selector.js';
import { compileReplies } from './replies.js';
import { compileRequester } from './requester.js';
import { compileChannels } from './channels.js';
import { compileStream } from './stream.js';
import type { ChannelTarget, Provider, ProviderPage, ResponseMeta } from './types.js';

export { FieldIssue } from './field-values.js';
export { firstRequest, nextFromLinkHeader, sentPageSize } from './paginator.js';

export function compileDefinition(name: string, definition: Definition): Provider {
  const request = definition.request;
  const label = (target: ChannelTarget) => `${name} ${target.kind === 'peer' ? 'peer' : definition.noun} ${target.id}`;
  const requester = compileRequester(name, definition.auth, definition.rateLimit);
  // $people: the directory, set once the run has walked it (src/dump/people.ts)
  const run: RunScope = { names: definition.people ? ['people'] : [], values: {} };
  const stream = compileStream<ChannelTarget>(definition, requester, {
    template(target) {
      if (target.kind !== 'peer') return request;
      const peer = request.peer;
      if (!peer) throw new UsageError(`${name} has no direct conversations (--peer)`, { hint: 'use --channel' });
      return { path: peer.path ?? request.path, query: peer.query ?? request.query ?? {}, headers: request.headers };
    },
    // one id, whichever placeholder the template names it by
    values: (target) => ({ channel: target.id, peer: target.id }),
    label,
  }, run);
  const fields = compileMessageMap(name, definition.fields, stream.selector.compile, definition.timezone);

  // A time cursor must move past events the filter drops, which still carry a time.
  const parsePage =
    definition.paging.type === 'time' && definition.filter !== undefined
      ? (body: unknown, target: ChannelTarget, response?: ResponseMeta): ProviderPage => {
          let filteredOldest: number | undefined;
          const dropped = (record: unknown, scope: ExprScope) => {
            const time = fields.timeOf(record, scope, { timezone: undefined });
            if (time !== undefined && representable(time) && (filteredOldest === undefined || time < filteredOldest)) filteredOldest = time;
          };
          const page = stream.parsePage(body, target, response, dropped);
          page.filteredOldest = filteredOldest;
          return page;
        }
      : (body: unknown, target: ChannelTarget, response?: ResponseMeta): ProviderPage => stream.parsePage(body, target, response);

  // Threads kept apart: a message record meeting `replies.when` carries its thread's parent for the walk.
  const replies = definition.replies ? compileReplies(name, definition, requester, stream.selector.compile, run) : undefined;
  const normalize: Provider['normalize'] = replies
    ? (item, target, settings, page) => {
        const entry = fields.normalize(item, target, settings, page);
        const parent = replies.parentOf(item, page.context as ExprScope | undefined, entry);
        if (parent) entry.thread = parent;
        return entry;
      }
    : fields.normalize;

  const { selector: _selector, describeStatus, parsePage: _parse, defaultPageSize, maxPageSize, takesPageSize, ...paging } = stream;
  return {
    ...paging,
    name,
    summary: definition.summary ?? name,
    definition,
    order: definition.order,
    credentials: requester.credentials,
    defaultBaseUrl: definition.baseUrl,
    defaultTimezone: definition.timezone,
    defaultPageSize,
    maxPageSize,
    takesPageSize,
    parsePage,
    normalize,
    ...(replies ? { replies } : {}),
    ...(definition.people ? { people: compilePeople(name, definition, requester), run } : {}),
    ...(definition.channels ? { channels: compileChannels(name, definition, requester) } : {}),
    ...(describeStatus ? { describeStatus } : {}),
  };
}
