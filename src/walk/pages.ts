import { RemoteError } from '../errors.js';
import { DedupeWindow } from '../pipeline/dedupe.js';
import type { Entry, PageProvider, ProviderPage } from '../providers/types.js';
import { redactUrl } from '../text/sanitize.js';
import { fetchEntries } from './fetch-page.js';
import { pageSizeFor } from './identity.js';
import type { MissingReport, WalkBatch, WalkOptions } from './types.js';
import { WalkTally } from './walk-end.js';

/** Re-reads allowed to close one seam before the walk gives up loudly. */
const MAX_SEAM_ATTEMPTS = 8;
/**
 * Pages in a row that add nothing new, beyond those that messages posted
 * meanwhile can explain, before the walk decides the server ignores the page
 * number (it would otherwise re-read the same page until `last_page`, or forever).
 */
const MAX_STALE_PAGES = 2;
/**
 * Re-reads of a page that came back empty or short before the end the API
 * announced (DESIGN.md section 4: like a transient failure), before the walk
 * goes on past it and reports what the server withheld.
 */
const MAX_SHORT_REREADS = 3;

interface Fetched {
  number: number;
  page: ProviderPage;
  entries: Entry[];
  ids: Set<string>;
  /** items left out as impossible (they still count toward the page's length) */
  missing: Array<{ reason: string; count: number }>;
}

/**
 * Walks a newest-first, page-numbered list forward (1 → N), several pages in
 * flight, handing them on strictly in page order.
 *
 * New messages push older ones toward later pages while we read. Reading
 * forward, that only repeats messages (deduped). The danger is a page that
 * was answered *before* a shift its predecessor saw: the messages pushed
 * across the seam between them are in neither. A seam is closed when the two
 * answers share a message, or report the same total; otherwise the later
 * page is read again (its new answer starts earlier), and if messages were
 * deleted meanwhile, the earlier page too.
 */
export async function* walkPages(provider: PageProvider, options: WalkOptions): AsyncGenerator<WalkBatch> {
  const { settings, target, label } = options;
  const size = pageSizeFor(provider, options.pageSize);
  const seen = new DedupeWindow(Math.max(10_000, 4 * provider.maxPageSize));
  const abort = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, abort.signal]) : abort.signal;
  const inFlight = new Map<number, Promise<Fetched>>();

  const shownPage = (number: number) => redactUrl(provider.buildRequest(settings, target, { number, size }).url);
  const fetchPage = async (number: number): Promise<Fetched> => {
    const req = provider.buildRequest(settings, target, { number, size });
    const { page, entries, missing } = await fetchEntries(provider, options, req, signal);
    return { number, page, entries, ids: new Set(entries.map((e) => e.message.id)), missing };
  };
  const prefetch = (number: number): Promise<Fetched> => {
    let pending = inFlight.get(number);
    if (!pending) {
      pending = fetchPage(number);
      // a page abandoned by an early stop must not surface as an unhandled rejection
      pending.catch(() => {});
      inFlight.set(number, pending);
    }
    return pending;
  };
  const take = async (number: number): Promise<Fetched> => {
    const pending = prefetch(number);
    inFlight.delete(number);
    return pending;
  };

  const resume = options.resumeFrom?.kind === 'pages' ? options.resumeFrom : undefined;
  let anchor: Fetched | undefined;
  let number = 1;
  if (resume) {
    number = resume.nextPage;
    for (const id of resume.lastIds) seen.add(id);
    anchor = {
      number: resume.nextPage - 1,
      page: { items: [], total: resume.total },
      entries: [],
      ids: new Set(resume.lastIds),
      missing: [],
    };
  }
  let lastPage: number | undefined;
  // The page numbers of a resumed walk were counted in the page size the server used then (a silent cap learned
  // on page 1), not in the size asked: read back in another, they would point past unread pages.
  let perPage = resume?.perPage ?? size;
  let unitsUnchecked = resume !== undefined;
  // pages in a row that added nothing new, and the list's total when the walk began
  let stale = 0;
  let firstTotal: number | undefined = resume?.total;

  const reported = new Set<string>();
  const tally = new WalkTally(resume === undefined);
  /**
   * The batch of one answer. `last`: the API's signals end the history here (the walk-end rule then compares
   * what was found with what it announced); `stop` set: a run of pages without a record ends the walk here.
   */
  const emit = (fetched: Fetched, entries: Entry[], withheld: MissingReport[] = [], last = false): WalkBatch & { stop?: boolean } => {
    let oldest: number | undefined;
    for (const entry of fetched.entries) if (oldest === undefined || entry.time < oldest) oldest = entry.time;
    // a page read again reports its impossible messages once
    const impossible = fetched.missing.filter((m) => !reported.has(m.reason));
    for (const m of impossible) reported.add(m.reason);
    const records = recordsOf(fetched);
    const tallied = tally.page(
      fetched.number,
      {
        records,
        kept: fetched.entries.length + fetched.missing.length,
        // records that share an id within one answer are one message, but they were served: not a gap
        found: entries.length + impossible.length + (fetched.entries.length - fetched.ids.size),
        total: fetched.page.total,
        last,
      },
      withheld,
    );
    const missing = [...tallied.missing, ...impossible];
    const run = tallied.stop;
    if (run) {
      // the API keeps announcing more and serves nothing: stop, loudly, rather than walk for ever
      missing.push({
        reason: `pages ${run.from}-${run.to} held no record at all though the server announced ${announced(fetched)}; the walk stopped there (GET ${shownPage(fetched.number)})`,
        count: run.count,
      });
    } else if (last) {
      // the walk-end rule: what the pages held must agree with what the API announced
      const short = tally.shortfall(shownPage(fetched.number));
      if (short) missing.push(short);
    }
    return {
      entries,
      ...(missing.length > 0 ? { missing } : {}),
      // Served oldest first (a definition's "order"), a page's oldest message says nothing about what
      // is left: reporting it would end a --since, --incremental or archive walk after its first page.
      oldest: provider.order === 'newest-first' ? oldest : undefined,
      page: fetched.number,
      total: fetched.page.total,
      checkpoint: { kind: 'pages', nextPage: fetched.number + 1, total: fetched.page.total, lastIds: [...fetched.ids], perPage },
      ...(run ? { stop: true } : {}),
    };
  };
  // records the server served: before the definition's filter, and counting items left out as impossible
  const recordsOf = (fetched: Fetched): number => fetched.page.records ?? fetched.entries.length + fetched.missing.length;
  let shortReads = 0;
  const fresh = (fetched: Fetched): Entry[] => fetched.entries.filter((e) => seen.add(e.message.id));

  try {
    for (let attempts = 0; ; ) {
      // Keep the window full: only once a page has told how many there are.
      if (lastPage !== undefined) {
        for (let n = number; n < number + options.concurrency && n <= lastPage; n++) prefetch(n);
      }
      const current = await take(number);
      const firstResumed = unitsUnchecked;
      unitsUnchecked = false;
      if (firstResumed && recordsOf(current) > perPage) {
        // The server serves more a page than when the position was stored: page numbers mean other
        // messages now. Read from page 1 again (what was read before is deduped by the output).
        options.logger.info(
          `${label}: the server now serves ${recordsOf(current)} messages a page, not the ${perPage} the stored position was counted in; reading again from page 1`,
        );
        perPage = size;
        lastPage = undefined;
        firstTotal = undefined;
        anchor = undefined;
        number = 1;
        continue;
      }
      learn(current);

      if (anchor && !seamClosed(anchor, current)) {
        attempts++;
        // A burst of new messages pushes the anchor's successors one page further per page's worth.
        if (attempts > MAX_SEAM_ATTEMPTS + pagesOfGrowth(current, anchor.page.total)) {
          throw new RemoteError(
            `${label}: the history changed faster than it could be read (page ${number} never met page ${anchor.number}; GET ${shownPage(number)})`,
            { hint: 'run the export again; if it keeps happening, lower --concurrency' },
          );
        }
        if (attempts === 1) continue; // answered before its predecessor saw a change: ask again
        if ((current.page.total ?? 0) > (anchor.page.total ?? 0)) {
          // More than a page of new messages arrived since the anchor: this page
          // holds only newer ones; the anchor's successors are further on.
          yield emit(current, fresh(current));
          number++;
        } else {
          // Messages were deleted: the anchor's successors slid back onto its page.
          const reread = await fetchPage(anchor.number);
          yield emit(reread, fresh(reread));
          anchor = reread;
        }
        continue;
      }
      attempts = 0;
      // A page emptier than the API's own announcement (total, last page, next link) is not the end.
      const expected = expectedOn(current);
      // So is a page of only messages already read while the page number moved on: read again before believed.
      const repeated = number > 1 && expected > 0 && current.entries.length > 0 && current.entries.every((e) => seen.has(e.message.id));
      if ((recordsOf(current) < expected || repeated) && shortReads < MAX_SHORT_REREADS) {
        shortReads++;
        options.logger.debug(
          `${label}: page ${number} held ${repeated ? 'only messages already read' : `${recordsOf(current)} of the ${expected} messages announced`}; reading it again`,
        );
        continue;
      }
      const withheld: MissingReport[] | undefined =
        recordsOf(current) < expected
          ? [
              {
                reason: `page ${number} came back with ${recordsOf(current)} of ${expected} messages ${shortReads + 1} times, though the server announced ${announced(current)} (GET ${shownPage(number)})`,
                count: expected - recordsOf(current),
              },
            ]
          : undefined;
      shortReads = 0;
      const added = fresh(current);
      if (added.length > 0 || current.entries.length + current.missing.length === 0) {
        stale = 0;
      } else if (++stale > MAX_STALE_PAGES + pagesOfGrowth(current, firstTotal)) {
        // Only new messages pushing read ones forward can make whole pages repeat:
        // a page's worth of them for each such page.
        throw new RemoteError(
          `${label}: pages ${number - stale + 1}-${number} held only messages already read; the server seems to ignore the page number (GET ${shownPage(number)})`,
          { hint: "possible causes: the server ignores the page number (a fault on its side, or a proxy or cache before it that drops the query: check --base-url), or the definition's paging.param is not the parameter it reads" },
        );
      }
      const page = current.page;
      // records before the definition's filter: a page of events is full, not the end
      const records = recordsOf(current);
      const announcedMore = page.hasNext === true || (lastPage !== undefined && number < lastPage);
      const isLast =
        page.hasNext === false ||
        (lastPage !== undefined && number >= lastPage) ||
        (!announcedMore && (records === 0 || records < perPage));
      const { stop, ...batch } = emit(current, added, withheld, isLast);
      yield batch;
      anchor = current;
      if (isLast || stop) return;
      number++;
    }
  } finally {
    abort.abort(new Error('walk ended'));
  }

  /** Messages the API's own answer says this page holds: 0 when it announces no end beyond it. */
  function expectedOn(fetched: Fetched): number {
    const page = fetched.page;
    const n = fetched.number;
    const total = page.total;
    if (total !== undefined) return Math.max(0, Math.min(perPage, total - (n - 1) * perPage));
    const last = page.lastPage ?? lastPage;
    if (last !== undefined && n < last) return perPage;
    if (last !== undefined && n === last) return 1;
    return page.hasNext === true ? perPage : 0;
  }

  function announced(fetched: Fetched): string {
    const page = fetched.page;
    const said: string[] = [];
    if (page.total !== undefined) said.push(`${page.total} messages`);
    if (page.lastPage !== undefined) said.push(`${page.lastPage} pages`);
    if (page.hasNext === true) said.push('a next page');
    return said.join(', ') || 'more';
  }

  /** Pages' worth of messages the list gained since it had `since` (0 when either total is unknown). */
  function pagesOfGrowth(fetched: Fetched, since: number | undefined): number {
    const total = fetched.page.total;
    if (total === undefined || since === undefined || total <= since) return 0;
    return Math.ceil((total - since) / perPage);
  }

  function learn(fetched: Fetched): void {
    const page = fetched.page;
    firstTotal ??= page.total;
    const count = recordsOf(fetched);
    if (page.perPage !== undefined && page.perPage > 0) perPage = page.perPage;
    else if (
      fetched.number === 1 &&
      count > 0 &&
      count < perPage &&
      (page.hasNext === true || (page.total !== undefined && page.total > count) || (page.lastPage ?? 1) > 1)
    ) {
      // The server cut our page size without saying so: a short page is not the end.
      perPage = count;
    }
    if (page.lastPage !== undefined) lastPage = page.lastPage;
    else if (page.total !== undefined) lastPage = Math.max(1, Math.ceil(page.total / perPage));
  }
}

/** No message can hide between two answers that overlap or saw the same list. */
function seamClosed(anchor: Fetched, next: Fetched): boolean {
  if (next.entries.length === 0) return true;
  const a = anchor.page.total;
  const b = next.page.total;
  if (a === undefined || b === undefined || a === b) return true;
  for (const id of next.ids) if (anchor.ids.has(id)) return true;
  return false;
}
