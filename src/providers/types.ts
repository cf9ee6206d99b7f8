import { z } from 'zod';
import { LossyNumberError, type HttpRequest, type StatusDescriber } from '../http/client.js';
import type { Message } from '../message.js';
import type { Definition } from './definition.js';
import type { PeoplePart, Person } from './people.js';
import type { RunScope } from './record-selector.js';
import type { RepliesPart, ThreadRef } from './replies.js';

/** A channel, dialog or conversation as the user named it. */
export interface ChannelTarget {
  id: string;
  /** relation can also read a direct conversation by the other party's id */
  kind: 'channel' | 'peer';
  /** the kind the definition's channel list gave it (`private`, `direct`…): `request.kinds` may ask for it otherwise */
  listedKind?: string | undefined;
}

/** Everything a provider needs to build requests and normalize answers. */
export interface ProviderSettings {
  baseUrl: string;
  token: string | undefined;
  apiKey: string | undefined;
  /** zone for naive timestamps; undefined = the provider's own default */
  timezone: string | undefined;
  raw: boolean;
}

/** A normalized message and its time in epoch ms (walkers compare times). */
export interface Entry {
  time: number;
  message: Message;
  /** the message starts a thread kept apart from the history (the definition's `replies`) */
  thread?: ThreadRef | undefined;
  /** a record of the people directory (its walk's entries carry no message) */
  person?: Person | undefined;
  /** a channel list's entry: the channel it lists (no message) */
  channel?: ListedChannel | undefined;
}

/** One answer, reduced to what the walkers need. Items are still raw. */
export interface ProviderPage {
  items: unknown[];
  /** messages in the whole list, when the API says */
  total?: number | undefined;
  lastPage?: number | undefined;
  /** the page size the server actually used */
  perPage?: number | undefined;
  /** false when the API says there is no next page */
  hasNext?: boolean | undefined;
  /** page-wide data items refer to (JSON:API `included`) */
  context?: unknown;
  /** records in the answer before the definition's filter (short-page checks count these) */
  records?: number | undefined;
  /** oldest time among the records the filter dropped (a time cursor must still move past them) */
  filteredOldest?: number | undefined;
  /** the next token or link (sequential walks); null = the API says there is none */
  next?: string | null | undefined;
}

/** What a parser may read from the response besides its body. */
export interface ResponseMeta {
  headers: Record<string, string | string[] | undefined>;
  url?: URL | undefined;
}

export type Requirement = 'required' | 'optional' | 'unused';

interface ProviderBase {
  name: string;
  summary: string;
  /** the definition this provider was compiled from */
  definition: Definition;
  /** the order the API serves messages in */
  order: 'newest-first' | 'oldest-first';
  /** false when the API has no page-size parameter (dishawang) */
  takesPageSize: boolean;
  credentials: { token: Requirement; apiKey: Requirement; how: string };
  defaultBaseUrl: string | undefined;
  defaultPageSize: number;
  maxPageSize: number;
  /** zone naive timestamps are read in when --timezone is not given (dishawang +08:00); undefined: times carry their zone */
  defaultTimezone?: string | undefined;
  /** Validate the envelope; throw typed errors for the API's own error codes. */
  parsePage(body: unknown, target: ChannelTarget, response?: ResponseMeta): ProviderPage;
  /** Map one raw item (zod-checked) to the normalized message. */
  normalize(item: unknown, target: ChannelTarget, settings: ProviderSettings, page: ProviderPage): Entry;
  describeStatus?: StatusDescriber;
  /** threads kept apart from the history, walked for each parent (the definition's `replies`) */
  replies?: RepliesPart | undefined;
  /** the people directory (the definition's `people`), walked once per run into `run.values.people` */
  people?: PeoplePart | undefined;
  run?: RunScope | undefined;
  /** the definition's `channels` part: how to list the conversations the credential can see */
  channels?: ChannelLister | undefined;
}

/** Time-cursor paging (relation's maxCreateAt): the walker sends the oldest time it has seen. */
export interface CursorPaging<T = ChannelTarget> {
  paging: 'cursor';
  buildRequest(settings: ProviderSettings, target: T, cursor: { maxCreateAt: number; limit: number }): HttpRequest;
}

export interface PagePaging<T = ChannelTarget> {
  paging: 'pages';
  buildRequest(settings: ProviderSettings, target: T, page: { number: number; size: number }): HttpRequest;
}

/** Where a sequential walk is: nothing yet, an offset, a token, or a link to follow. */
export type SequentialPosition = { start: true } | { offset: number } | { token: string } | { link: string };

/** Offset, next-token and next-link APIs: each answer says where the next one is. */
export interface SequentialPaging<T = ChannelTarget> {
  paging: 'sequential';
  step: 'offset' | 'cursor' | 'link';
  buildRequest(settings: ProviderSettings, target: T, position: SequentialPosition, size: number): HttpRequest;
}

/** The paginator's side of a stream (./paginator.ts), over whatever a stream's target is. */
export type PagingPart<T = ChannelTarget> = CursorPaging<T> | PagePaging<T> | SequentialPaging<T>;

export interface CursorProvider extends ProviderBase, CursorPaging {}
export interface PageProvider extends ProviderBase, PagePaging {}
export interface SequentialProvider extends ProviderBase, SequentialPaging {}

export type Provider = CursorProvider | PageProvider | SequentialProvider;

/** Join a base URL that may carry a path prefix with an API path. */
export function apiUrl(baseUrl: string, path: string): URL {
  const base = new URL(baseUrl);
  const prefix = base.pathname.replace(/\/+$/, '');
  base.pathname = `${prefix}${path}`;
  base.search = '';
  base.hash = '';
  return base;
}

/**
 * An id as the APIs send it, string or number, always a string out. A number
 * beyond 2^53 has already been rounded by JSON.parse: asking for an exact
 * re-parse beats two messages collapsing into one id.
 */
export const idSchema = z.union([z.string(), z.number()]).transform((value) => {
  if (typeof value === 'number' && !Number.isSafeInteger(value) && Number.isInteger(value)) throw new LossyNumberError();
  return String(value);
});

/** One conversation a definition's `channels` part listed (DESIGN.md section 4c). */
export interface ListedChannel {
  id: string;
  name: string | null;
  /** channel, private, direct, group, thread — or what the definition maps its kinds to */
  kind: string | null;
  /** a thread's channel */
  parent: string | null;
  archived: boolean;
  /** false: the credential may not read it (not a member); skipped, never a failure */
  readable: boolean;
  /** the record as the server sent it */
  raw: unknown;
  /** a place channels are listed under (the listing's `container`), not a channel: only listChannels sees it */
  container?: true;
}

/**
 * A definition's `channels` part compiled: listings walked in order, each a
 * stream the message walkers drive (its `normalize` carries each listed
 * channel as the entry's `raw`). A listing with `forEach` is walked once for
 * each readable channel listed before it whose record meets the condition,
 * with that channel as its target (`{channel}` in its request).
 */
export interface ChannelLister {
  listings: Array<{ provider: Provider; forEach?: ((record: unknown) => boolean) | undefined }>;
}
