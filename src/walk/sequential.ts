import { RemoteError } from '../errors.js';
import { DedupeWindow } from '../pipeline/dedupe.js';
import type { Entry, ProviderPage, SequentialPosition, SequentialProvider } from '../providers/types.js';
import { redactUrl } from '../text/sanitize.js';
import { fetchEntries, type FetchedPage } from './fetch-page.js';
import { pageSizeFor } from './identity.js';
import type { MissingReport, WalkBatch, WalkOptions } from './types.js';
import { WalkTally } from './walk-end.js';

/** Pages in a row that add nothing new before the walk decides the server is not moving on. */
const MAX_STALE_PAGES = 2;
/**
 * Re-reads of an empty or short page the API said was not the last, or of a
 * page of an offset walk that held only messages already read though the
 * offset moved on, before the walk goes on past it.
 */
const MAX_REREADS = 2;

/**
 * Walks an API whose every answer says where the next one starts: an offset
 * (the records read so far), an opaque next token, or a next link. One request
 * at a time: the position of page N+1 is only known from page N.
 *
 * New messages posted during the walk: served oldest first they join the end
 * and are read when the walk gets there; served newest first they push read
 * ones forward (offset APIs), which only repeats messages — dedupe drops them.
 * A token or link the server repeats, or pages that add nothing new beyond
 * what new messages explain, end the walk with an error instead of a spin.
 */
export async function* walkSequential(provider: SequentialProvider, options: WalkOptions): AsyncGenerator<WalkBatch> {
  const { settings, target, label } = options;
  const size = pageSizeFor(provider, options.pageSize);
  const seen = new DedupeWindow(Math.max(10_000, 4 * provider.maxPageSize));
  const newestFirst = provider.order === 'newest-first';
  const abort = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, abort.signal]) : abort.signal;
  const resume = options.resumeFrom?.kind === 'sequential' ? options.resumeFrom : undefined;
  let position: SequentialPosition = resume?.position ?? { start: true };
  for (const id of resume?.lastIds ?? []) seen.add(id);
  const shown = (at: SequentialPosition) => redactUrl(provider.buildRequest(settings, target, at, size).url);
  const fetch = (at: SequentialPosition): Promise<FetchedPage> => fetchEntries(provider, options, provider.buildRequest(settings, target, at, size), signal);
  // A next token or link is known once the answer is parsed: the next page is asked for then, while this
  // one's messages are normalized. Only for the answer the walk is waiting for, so one request at most
  // runs ahead; an offset walk may read a page again, so it asks once the page is judged (below).
  type Pending = { promise: Promise<FetchedPage>; arm: () => void };
  const ahead: { early?: { value: string; request: Pending } | undefined } = {};
  const positionOf = (value: string): SequentialPosition => (provider.step === 'link' ? { link: value } : { token: value });
  const awaited = (at: SequentialPosition): Pending => {
    let armed = false;
    const onPage = (page: ProviderPage) => {
      const value = page.next;
      if (!armed || page.hasNext === false || value === null || value === undefined || value === '' || followed.has(value) || ahead.early?.value === value) return;
      let request: Pending;
      try {
        request = awaited(positionOf(value));
      } catch {
        // a position no request can be built for (a link to another origin): the walk says so in its own turn, below
        return;
      }
      // a walk that stops or fails first abandons it: not an unhandled rejection
      request.promise.catch(() => {});
      ahead.early = { value, request };
    };
    const promise = provider.step === 'offset' ? fetch(at) : fetchEntries(provider, options, provider.buildRequest(settings, target, at, size), signal, onPage);
    return { promise, arm: () => (armed = true) };
  };
  // tokens and links already followed: one coming back would loop forever
  const followed = new Set<string>();
  let stale = 0;
  let firstTotal: number | undefined;
  const tally = new WalkTally(resume === undefined);
  // an answer read again reports its impossible messages once
  const reported = new Set<string>();
  // The next page is asked for as soon as its position is known, before this one is handed on:
  // the server works on it while the page is written (one request in flight, as before).
  let pending: Pending | undefined;

  try {
    for (let number = 1; ; number++) {
      const current = pending ?? awaited(position);
      pending = undefined;
      ahead.early = undefined;
      current.arm();
      let fetched = await current.promise;
      let records = recordsOf(fetched);
      // The walk-end rule: an empty or short page before the end the API announced is read again, and so is a
      // page of only messages already read where the offset moved on (a server whose offsets go backwards).
      for (let reread = 0; reread < MAX_REREADS && provider.step === 'offset' && suspicious(fetched, records, number); reread++) {
        options.logger.debug(`${label}: page ${number} ${records < size ? `is short (${records})` : 'held only messages already read'} though the API says more follow; reading it again`);
        fetched = await fetch(position);
        records = recordsOf(fetched);
      }
      const page = fetched.page;
      firstTotal ??= page.total;
      const added: Entry[] = [];
      let oldest: number | undefined;
      for (const entry of fetched.entries) {
        if (oldest === undefined || entry.time < oldest) oldest = entry.time;
        if (seen.add(entry.message.id)) added.push(entry);
      }
      // Only messages already read: the server repeats itself. A page of records the definition filters out
      // (joins, reactions) or an empty one while the position moves on is not (empty runs are bounded below).
      if (added.length === 0 && fetched.entries.length > 0) {
        const growth = page.total !== undefined && firstTotal !== undefined && page.total > firstTotal ? Math.ceil((page.total - firstTotal) / size) : 0;
        if (++stale > MAX_STALE_PAGES + growth) throw repeating(stale, position);
      } else if (fetched.entries.length > 0) {
        stale = 0;
      }

      let next: SequentialPosition | 'end';
      let withheld: MissingReport[] | undefined;
      if (provider.step === 'offset') {
        const offset = 'offset' in position ? position.offset : 0;
        const after = offset + records;
        const short = records === 0 || (provider.takesPageSize && records < size);
        if (page.hasNext === false || (page.total !== undefined && after >= page.total)) next = 'end';
        else if (!short) next = { offset: after };
        else if (announcesMore(fetched, records)) {
          // Still short after re-reading: step past what the server withheld, loudly.
          // counted as missing (exit 5): the walk goes on past what the server withheld
          withheld = [{ reason: `offset ${offset} came back with ${records} of ${size} records though the server says more follow (GET ${shown(position)})`, count: size - records }];
          next = { offset: offset + size };
        } else next = 'end';
      } else {
        const value = page.next;
        if (page.hasNext === false || value === null || value === undefined || value === '') next = 'end';
        else if (followed.has(value)) {
          const what = provider.step === 'link' ? 'next link' : 'next token';
          throw new RemoteError(`${label}: the server sent back a ${what} it had already sent; following it would loop (GET ${shown(position)})`, {
            hint: `possible causes: the server does not move on (a fault on its side: try again later), or the definition's paging.from names the current position, not the next`,
          });
        } else {
          followed.add(value);
          // memory stays bounded: a loop longer than this is caught by the stale-page rule
          if (followed.size > 1000) followed.delete(followed.values().next().value!);
          next = provider.step === 'link' ? { link: value } : { token: value };
        }
      }

      const impossible = fetched.missing.filter((m) => !reported.has(m.reason));
      for (const m of impossible) reported.add(m.reason);
      const tallied = tally.page(
        number,
        {
          records,
          kept: fetched.entries.length + fetched.missing.length,
          // records that share an id within one answer are one message, but they were served: not a gap
          found: added.length + impossible.length + fetched.entries.length - new Set(fetched.entries.map((e) => e.message.id)).size,
          total: page.total,
          last: next === 'end',
        },
        withheld ?? [],
      );
      const missing: MissingReport[] = [...tallied.missing, ...impossible];
      if (tallied.stop) {
        // the API keeps saying more follow and serves nothing: stop, loudly, rather than walk for ever
        const run = tallied.stop;
        missing.push({
          reason: `pages ${run.from}-${run.to} held no record at all though the server said more follow each time; the walk stopped there (GET ${shown(position)})`,
          count: run.count,
        });
        next = 'end';
      } else if (next === 'end') {
        // the walk-end rule: what the pages held must agree with what the API announced
        const short = tally.shortfall(shown(position));
        if (short) missing.push(short);
      }
      if (next !== 'end') {
        const value = 'token' in next ? next.token : 'link' in next ? next.link : undefined;
        // asked for already while this page was normalized, unless a retried answer named another position
        const early = ahead.early as { value: string; request: Pending } | undefined;
        pending = early !== undefined && early.value === value ? early.request : awaited(next);
        // a walk stopped early (--since, --limit) abandons it: not an unhandled rejection
        pending.promise.catch(() => {});
      }
      yield {
        entries: added,
        // served oldest first, a page's oldest message says nothing about what is left: no early stop
        oldest: newestFirst ? oldest : undefined,
        page: number,
        total: page.total,
        checkpoint: { kind: 'sequential', position: next === 'end' ? position : next, lastIds: fetched.entries.map((e) => e.message.id) },
        ...(missing.length > 0 ? { missing } : {}),
      };
      if (next === 'end') return;
      position = next;
    }
  } finally {
    abort.abort(new Error('walk ended'));
  }

  /** records served: before the definition's filter, counting items left out as impossible */
  function recordsOf(fetched: FetchedPage): number {
    return fetched.page.records ?? fetched.entries.length + fetched.missing.length;
  }

  /** Read again before it is believed: short before the announced end, or only messages already read. */
  function suspicious(fetched: FetchedPage, records: number, number: number): boolean {
    if (!announcesMore(fetched, records)) return false;
    if (records < size) return true;
    return number > 1 && fetched.entries.length > 0 && fetched.entries.every((entry) => seen.has(entry.message.id));
  }

  function repeating(stale: number, at: SequentialPosition): RemoteError {
    return new RemoteError(`${label}: ${stale} answers in a row held only messages already read though the position moved on; the server does not move on (GET ${shown(at)})`, {
      hint: "possible causes: the server ignores the position (a fault on its side, or a proxy or cache before it that drops the query: check --base-url), or the definition's paging.param is not the parameter it reads",
    });
  }

  function announcesMore(fetched: FetchedPage, records: number): boolean {
    const page = fetched.page;
    if (page.hasNext === true) return true;
    const offset = 'offset' in position ? position.offset : 0;
    return page.total !== undefined && offset + records < page.total;
  }
}
