import { RemoteError } from '../errors.js';
import { DedupeWindow } from '../pipeline/dedupe.js';
import type { CursorProvider, Entry } from '../providers/types.js';
import { redactUrl } from '../text/sanitize.js';
import { fetchEntries } from './fetch-page.js';
import type { MissingReport, WalkBatch, WalkOptions } from './types.js';

/** "No upper bound" for the first request; some servers require the parameter. */
const NO_BOUND = Number.MAX_SAFE_INTEGER;
/** Smallest silent page cap we believe in: real APIs do not cut pages below this. */
const MIN_SUSPECTED_CAP = 10;

/**
 * Walks an inclusive, newest-first time cursor (relation's maxCreateAt):
 * each request asks for messages at or before the oldest time seen so far.
 *
 * The cursor cannot move while every message in a page shares the cursor's
 * millisecond; then the page is grown for that window, and only when the
 * server will not return more does the walk step past the millisecond, with a
 * warning. Every turn of the loop either moves the cursor back, grows the page
 * (bounded), or ends: a misbehaving server cannot make it spin.
 */
export async function* walkCursor(provider: CursorProvider, options: WalkOptions): AsyncGenerator<WalkBatch> {
  const { settings, target, logger, label } = options;
  const baseLimit = Math.min(Math.max(1, options.pageSize), provider.maxPageSize);
  const seen = new DedupeWindow(Math.max(10_000, 2 * provider.maxPageSize));
  let cursor = options.until !== undefined ? options.until - 1 : NO_BOUND;
  const resume = options.resumeFrom?.kind === 'cursor' ? options.resumeFrom : undefined;
  if (resume) {
    cursor = resume.maxCreateAt;
    for (const id of resume.boundaryIds) seen.add(id);
  }
  let limit = baseLimit;
  let largestAnswer = 0;
  // length of the answer that made us grow the page; a grown page no longer than it means the server caps pages
  let lengthBeforeGrowth: number | undefined;

  // The next request leaves before this page is handed on, so the server's time
  // overlaps ours (sorting, serializing, writing); an early stop aborts it.
  const abort = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, abort.signal]) : abort.signal;
  const request = (maxCreateAt: number, size: number) => {
    const pending = fetchEntries(provider, options, provider.buildRequest(settings, target, { maxCreateAt, limit: size }), signal);
    pending.catch(() => {});
    return pending;
  };
  let pending = request(cursor, limit);
  const shownRequest = (maxCreateAt: number, size: number) =>
    redactUrl(provider.buildRequest(settings, target, { maxCreateAt, limit: size }).url);

  const reported = new Set<string>();
  try {
    for (let number = 1; ; number++) {
      const { page, entries: normalized, missing: dropped } = await pending;
      // an answer asked for again (a grown page) reports its impossible messages once
      const missing = dropped.filter((m) => !reported.has(m.reason));
      for (const m of missing) reported.add(m.reason);
      const entries: Entry[] = [];
      const all: Entry[] = [];
      let oldest = Infinity;
      let newest = -Infinity;
      for (const entry of normalized) {
        if (entry.time < oldest) oldest = entry.time;
        if (entry.time > newest) newest = entry.time;
        all.push(entry);
        if (seen.add(entry.message.id)) entries.push(entry);
      }
      // A definition's filter drops events (joins, reactions): they still fill the page and move the cursor.
      if (page.filteredOldest !== undefined && page.filteredOldest < oldest) oldest = page.filteredOldest;
      // So does an item left out as impossible (records counts it; a provider without records adds it here).
      const count = page.records ?? normalized.length + dropped.length;
      if (count > 0 && newest > cursor) {
        throw new RemoteError(
          `${label}: the server answered maxCreateAt=${cursor} with messages newer than it; it does not honour the cursor (GET ${shownRequest(cursor, limit)})`,
          { hint: 'check --base-url points at the relation API' },
        );
      }
      largestAnswer = Math.max(largestAnswer, count);
      const atCursor = count > 0 && oldest >= cursor;
      // A page shorter than asked is "full" only when the server seems to cap pages; a tiny
      // history (one message, a few at one millisecond) is not a cap, and must end quietly.
      const full = count > 0 && (count >= limit || (count >= largestAnswer && largestAnswer >= MIN_SUSPECTED_CAP));

      let next: number | 'end' = 'end';
      let atRisk: MissingReport | undefined;
      if (count === 0) {
        next = 'end';
      } else if (!atCursor) {
        next = oldest;
        limit = baseLimit;
        lengthBeforeGrowth = undefined;
      } else if (!full) {
        // everything at or before the cursor has been served
        next = 'end';
      } else if (limit < provider.maxPageSize && (lengthBeforeGrowth === undefined || count > lengthBeforeGrowth)) {
        lengthBeforeGrowth = count;
        limit = Math.min(provider.maxPageSize, limit * 4);
        next = cursor;
        logger.debug(`${label}: ${count} messages share ${new Date(cursor).toISOString()}; asking for ${limit} per page`);
      } else {
        logger.warn(
          `${label}: ${count} messages share the millisecond ${new Date(cursor).toISOString()} and the server returns at most ${count} per request; ` +
            `stepping past it — messages at that millisecond beyond these ${count} may be missing from the export`,
        );
        next = cursor - 1;
        limit = baseLimit;
        lengthBeforeGrowth = undefined;
        atRisk = {
          reason: `${count} messages share the millisecond ${new Date(cursor).toISOString()} and the server returns at most ${count} per request: any more at that millisecond could not be fetched (GET ${shownRequest(cursor, limit)})`,
          count: 0,
        };
      }

      const boundary = next === 'end' ? [] : idsAt(all, next);
      if (next !== 'end') pending = request(next, limit);
      if (atRisk) missing.push(atRisk);
      yield {
        entries,
        ...(missing.length > 0 ? { missing } : {}),
        // a page of impossible items only has no time to go by
        oldest: count > 0 && Number.isFinite(oldest) ? oldest : undefined,
        page: number,
        total: undefined,
        checkpoint: { kind: 'cursor', maxCreateAt: next === 'end' ? cursor : next, boundaryIds: boundary },
      };
      if (next === 'end') return;
      cursor = next;
    }
  } finally {
    abort.abort(new Error('walk ended'));
  }
}

/**
 * Ids at the next cursor's millisecond: after a resume they are the only
 * ones the server can send again, so they are all a checkpoint must keep.
 */
function idsAt(entries: Entry[], time: number): string[] {
  const ids: string[] = [];
  for (const entry of entries) if (entry.time === time) ids.push(entry.message.id);
  return ids;
}
