/**
 * The paginator (Airbyte's DefaultPaginator): how a stream asks for its next
 * page — page numbers, offsets, next tokens, next links, a time cursor — and
 * the page size it sends. It turns a stream's base request (the requester's,
 * for a target) into the `buildRequest` the walkers drive, and reads the next
 * token or link out of an answer.
 */
import { LossyNumberError, type HttpRequest } from '../http/client.js';
import { RemoteError } from '../errors.js';
import type { Paging } from './definition.js';
import type { Expr, ExprScope } from './expression.js';
import type { PagingPart, ProviderSettings, ResponseMeta, SequentialPosition } from './types.js';

export const NO_BOUND = Number.MAX_SAFE_INTEGER;
/**
 * A definition that does not say how large a page its server accepts: `--page-size` up to this is sent as asked, and a
 * tie grows the page up to it. A server that caps lower answers a full page short, which the walkers already read as
 * its cap (a tie over it is exit 5, never silent).
 */
export const DEFAULT_MAX_PAGE_SIZE = 1000;

export interface PageSizes {
  defaultPageSize: number;
  maxPageSize: number;
  /** false when the API has no page-size parameter (dishawang) */
  takesPageSize: boolean;
}

/** Where a stream's base request comes from: the target, and the page number for `{page}` in a path. */
export type BaseRequest<T> = (settings: ProviderSettings, target: T, page?: number) => HttpRequest;

export interface Paginator<T> {
  sizes: PageSizes;
  /** The walkers' side: the paging kind and its buildRequest. */
  part: PagingPart<T>;
  /** The next token or link in an answer (cursor and link paging); undefined for the other kinds. */
  next: ((body: unknown, scope: ExprScope, response?: ResponseMeta) => string | null) | undefined;
}

export interface PaginatorContext<T> {
  base: BaseRequest<T>;
  /** signs a followed next link */
  authorize: (url: URL, headers: Record<string, string>, settings: ProviderSettings) => void;
  /** names the target in errors ("relation channel 42") */
  label: (target: T) => string;
  compile: (text: string) => Expr;
}

export function compilePaginator<T>(paging: Paging, ctx: PaginatorContext<T>): Paginator<T> {
  const spec = paging.size ?? { default: 50, max: 1000, param: undefined };
  const sizes: PageSizes = {
    defaultPageSize: spec.default,
    maxPageSize: spec.max ?? Math.max(spec.default, DEFAULT_MAX_PAGE_SIZE),
    takesPageSize: spec.param !== undefined,
  };
  const withSize = (req: HttpRequest, size: number): HttpRequest => {
    if (spec.param) req.url.searchParams.set(spec.param, String(size));
    return req;
  };
  return { sizes, part: pagingPart(paging, ctx, withSize), next: nextReader(paging, ctx.compile) };
}

function pagingPart<T>(paging: Paging, ctx: PaginatorContext<T>, withSize: (req: HttpRequest, size: number) => HttpRequest): PagingPart<T> {
  const { base } = ctx;
  switch (paging.type) {
    case 'time': {
      const inclusive = paging.inclusive;
      return {
        paging: 'cursor',
        buildRequest(settings, target, cursor) {
          const req = withSize(base(settings, target), cursor.limit);
          // The walker thinks in "at or before"; an exclusive API gets the next millisecond.
          const bound = inclusive || cursor.maxCreateAt >= NO_BOUND ? cursor.maxCreateAt : cursor.maxCreateAt + 1;
          req.url.searchParams.set(paging.param, String(bound));
          return req;
        },
      };
    }
    case 'pages':
      return {
        paging: 'pages',
        buildRequest(settings, target, page) {
          // Walkers count pages from 1; a 0-based API gets one less.
          const number = page.number - 1 + paging.first;
          const req = withSize(base(settings, target, number), page.size);
          if (paging.param) req.url.searchParams.set(paging.param, String(number));
          return req;
        },
      };
    default:
      return {
        paging: 'sequential',
        step: paging.type,
        buildRequest(settings, target, position: SequentialPosition, size) {
          if ('link' in position) return followLink(ctx, settings, target, position.link);
          const req = withSize(base(settings, target), size);
          if ('offset' in position && paging.type === 'offset') req.url.searchParams.set(paging.param, String(position.offset));
          if ('token' in position && paging.type === 'cursor') req.url.searchParams.set(paging.param, position.token);
          if ('start' in position && paging.type === 'offset') req.url.searchParams.set(paging.param, '0');
          return req;
        },
      };
  }
}

function followLink<T>(ctx: PaginatorContext<T>, settings: ProviderSettings, target: T, link: string): HttpRequest {
  const req = ctx.base(settings, target);
  const url = new URL(link, req.url);
  if (url.origin !== req.url.origin) {
    throw new RemoteError(`${ctx.label(target)}: the next link leads to another origin (${url.origin}); credentials are not sent there`, {
      hint: 'check --base-url is the API root the links point at',
    });
  }
  // The link carries the position; credentials sent as a query parameter go along again.
  const auth = new URL(url);
  ctx.authorize(auth, {}, settings);
  return { url: auth, headers: req.headers, rateLimit: req.rateLimit };
}

function nextReader(paging: Paging, compile: (text: string) => Expr): Paginator<unknown>['next'] {
  if (paging.type !== 'cursor' && paging.type !== 'link') return undefined;
  if ('body' in paging.from) {
    const read = compile(paging.from.body);
    return (body, scope) => {
      const value = read(body, scope);
      if (value === null || value === '' || value === false) return null;
      if (typeof value === 'number' && !Number.isSafeInteger(value) && Number.isInteger(value)) throw new LossyNumberError();
      return typeof value === 'object' ? JSON.stringify(value) : String(value);
    };
  }
  const name = paging.from.header.toLowerCase();
  const isLink = paging.type === 'link' && name === 'link';
  return (_body, _scope, response) => {
    const raw = response?.headers[name];
    const header = Array.isArray(raw) ? raw.join(', ') : raw;
    if (!header) return null;
    return isLink ? nextFromLinkHeader(header) : header;
  };
}

/** rel="next" of an RFC 8288 Link header. */
export function nextFromLinkHeader(header: string): string | null {
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (match && /;\s*rel\s*=\s*"?(?:[^";]*\s)?next(?:\s[^";]*)?"?\s*(;|$)/i.test(match[2]!)) return match[1]!;
  }
  return null;
}

/**
 * The page size a walk sends for `asked` (`--page-size`): at least 1 and at
 * most the definition's maximum, as the walkers clamp it; what the server
 * fixes when the API takes none.
 */
export function sentPageSize(sizes: Pick<PageSizes, 'maxPageSize' | 'takesPageSize'>, asked: number): number {
  return sizes.takesPageSize ? Math.min(Math.max(1, asked), sizes.maxPageSize) : asked;
}

/** The first request of a walk (dry runs, `providers check`), with the page size the walk would send. */
export function firstRequest<T>(stream: PagingPart<T> & Pick<PageSizes, 'maxPageSize' | 'takesPageSize'>, settings: ProviderSettings, target: T, pageSize: number, until?: number): HttpRequest {
  const size = sentPageSize(stream, pageSize);
  switch (stream.paging) {
    case 'cursor':
      return stream.buildRequest(settings, target, { maxCreateAt: until !== undefined ? until - 1 : NO_BOUND, limit: size });
    case 'pages':
      return stream.buildRequest(settings, target, { number: 1, size });
    case 'sequential':
      return stream.buildRequest(settings, target, { start: true }, size);
  }
}
