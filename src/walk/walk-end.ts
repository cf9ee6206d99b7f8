/**
 * The walk-end rule's bookkeeping (DESIGN.md section 4b): a walk ends only
 * where the API's own signals agree that the history ends, and what it found
 * must agree with what the API announced. Kept by the page and sequential
 * walkers alike.
 */
import type { MissingReport } from './types.js';

/**
 * Pages in a row with no record at all, though the API says more follow,
 * before the walk stops there (a server answering empty pages with a fresh
 * token, `lastPage: 1e15` or `total: 1e9` would otherwise be walked for ever).
 * A page whose records the definition filters out is not empty: a timeline
 * of joins is progress.
 */
export const MAX_EMPTY_PAGES = 10;

export interface PageTally {
  /** records the server served, before the definition's filter (impossible ones included) */
  records: number;
  /** items the definition kept (messages, duplicates included) and those left out as impossible */
  kept: number;
  /**
   * messages not seen before in this walk, plus impossible ones reported for the first time (and records that
   * repeat an id within this one answer: served, though one message)
   */
  found: number;
  total: number | undefined;
  /** this answer is the last: the API's signals say the history ends here */
  last: boolean;
}

/** A run of MAX_EMPTY_PAGES pages without a record: the walk stops there. */
export interface EmptyRun {
  from: number;
  to: number;
  /** messages the API's total leaves unaccounted for; 0 when it gave none (how many is unknown) */
  count: number;
}

export class WalkTally {
  private found = 0;
  private withheld = 0;
  private filtered = false;
  private announced: number | undefined;
  private emptyFrom = 0;
  private emptyRun = 0;
  /** reports of the empty pages of the current run, held back: a run the walk stops at is said in one line */
  private held: MissingReport[] = [];

  /** `fromTop`: a resumed walk has not seen what came before its position, so it cannot compare totals */
  constructor(private readonly fromTop: boolean) {}

  /**
   * One answer handed on, with what the server withheld from it (an empty or
   * short page before the announced end). Returns the reports to hand on with
   * it, and `stop` once MAX_EMPTY_PAGES in a row held no record at all.
   */
  page(number: number, page: PageTally, withheld: readonly MissingReport[]): { missing: MissingReport[]; stop?: EmptyRun } {
    this.found += page.found;
    // the definition's filter dropped records: the API's total counts things that are not messages
    if (page.records > page.kept) this.filtered = true;
    // messages deleted meanwhile lower the total; ones posted meanwhile (newest first) are never reached: the smallest
    if (page.total !== undefined) this.announced = this.announced === undefined ? page.total : Math.min(this.announced, page.total);
    if (page.records === 0 && !page.last) {
      if (this.emptyRun++ === 0) this.emptyFrom = number;
      this.held.push(...withheld);
      if (this.emptyRun < MAX_EMPTY_PAGES) return { missing: [] };
      this.held = [];
      return { missing: [], stop: { from: this.emptyFrom, to: number, count: this.unaccounted() } };
    }
    const missing = [...this.held, ...withheld];
    this.held = [];
    this.emptyRun = 0;
    for (const report of missing) this.withheld += report.count;
    return { missing };
  }

  /**
   * At the end the API's signals agree on: the messages its total announced
   * that the walk neither found nor reported withheld (undefined when it
   * cannot tell: no total, a filter, a resumed walk).
   */
  shortfall(request: string): MissingReport | undefined {
    if (!this.fromTop || this.filtered || this.announced === undefined) return undefined;
    const short = this.unaccounted();
    if (short <= 0) return undefined;
    const reported = this.withheld > 0 ? ` and ${this.withheld} reported withheld` : '';
    return {
      reason: `the API announced ${this.announced} messages but its pages held ${this.found} distinct ones${reported}: it repeated or skipped records while the position moved on (last GET ${request})`,
      count: short,
    };
  }

  private unaccounted(): number {
    return this.announced === undefined ? 0 : Math.max(0, this.announced - this.found - this.withheld);
  }
}
