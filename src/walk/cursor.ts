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
 * millisecond; then the page is grown for that window. A tie cluster over
 * the server's page cap (DESIGN.md section 2, exit 5) is only this: a page
 * the server filled, every item at the cursor's millisecond, that the walk
 * cannot move past — either grown to the largest page there is, or cut
 * short by a silent cap the server is shown to have. A short answer at the
 * cursor is otherwise the end of the history (after retention deleted its
 * start, a tie cluster may be the oldest thing left). When a short answer
 * could be a silent cap (it is as long as any answer the server gave), the
 * walk steps past the millisecond and lets the server decide: messages
 * older than it mean the page was cut (the tie is reported at risk); none
 * mean the bottom, where one request from the top with the same page size
 * tells a cap (no longer an answer) from the end (a longer one).
 * Every turn of the loop either moves the cursor back, grows the page
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
  // where the walk started: the cap probe at the bottom asks from here
  const top = options.until !== undefined ? options.until - 1 : NO_BOUND;
  // a short answer at the cursor that may have been cut by a silent cap: the next answer decides
  let suspect: { cursor: number; count: number; limit: number } | undefined;

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
  const tieAtRisk = (count: number, at: number, size: number): MissingReport => {
    logger.warn(
      `${label}: ${count} messages share the millisecond ${new Date(at).toISOString()} and the server returns at most ${count} per request; ` +
        `stepping past it — messages at that millisecond beyond these ${count} may be missing from the export`,
    );
    return {
      reason: `${count} messages share the millisecond ${new Date(at).toISOString()} and the server returns at most ${count} per request: any more at that millisecond could not be fetched (GET ${shownRequest(at, size)})`,
      count: 0,
    };
  };
  // At the bottom, after a short answer at one millisecond: would the server give more than that answer
  // from the top? Then it has no cap there and the answer was the end. A history that holds only that
  // tie cannot tell; it is reported, as a cut would be.
  const cappedAt = async (short: { count: number; limit: number }): Promise<boolean> => {
    const { page, entries: probe, missing } = await request(top, short.limit);
    return (page.records ?? probe.length + missing.length) <= short.count;
  };
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
      largestAnswer = Math.max(largestAnswer, count);
      let atRisk: MissingReport | undefined;
      if (suspect) {
        // Messages older than the suspect's millisecond exist (here, or — at the bottom — beyond a cap the
        // top shows): the server cut that page, so members of the tie may be out of reach.
        const capped = count > 0 || (await cappedAt(suspect));
        if (capped) atRisk = tieAtRisk(suspect.count, suspect.cursor, suspect.limit);
        suspect = undefined;
      }
      if (count > 0 && newest > cursor) {
        // said in the definition's own terms: its time parameter, not relation's
        const param = provider.definition.paging.type === 'time' ? provider.definition.paging.param : 'the time bound';
        throw new RemoteError(
          `${label}: asked for messages at or before ${new Date(cursor).toISOString()} (${param}), the server answered with newer ones: it ignores the time bound (GET ${shownRequest(cursor, limit)})`,
          { hint: `possible causes: the server does not read ${param} (the definition's paging.param), or --base-url points at another API` },
        );
      }
      const atCursor = count > 0 && oldest >= cursor;

      let next: number | 'end' = 'end';
      if (count === 0) {
        next = 'end';
      } else if (!atCursor) {
        next = oldest;
        limit = baseLimit;
      } else if (count >= limit) {
        // a full page, every item at the cursor's millisecond
        if (limit < provider.maxPageSize) {
          limit = Math.min(provider.maxPageSize, limit * 4);
          next = cursor;
          logger.debug(`${label}: ${count} messages share ${new Date(cursor).toISOString()}; asking for ${limit} per page`);
        } else {
          // the largest page there is, and still all one millisecond: the walk cannot move past it
          atRisk = tieAtRisk(count, cursor, limit);
          next = cursor - 1;
          limit = baseLimit;
        }
      } else if (count >= largestAnswer && count >= MIN_SUSPECTED_CAP) {
        // Short, but as long as anything the server gave: the end of the history, or a silent cap.
        // Step past and let the next answer tell (a few messages at one millisecond are never taken for a cap).
        suspect = { cursor, count, limit };
        next = cursor - 1;
        limit = baseLimit;
      } else {
        // everything at or before the cursor has been served
        next = 'end';
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
