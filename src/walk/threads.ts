/**
 * Threads kept apart from the history (a definition's `replies`): the
 * channel's walk, with each parent's thread walked by the same walkers as
 * soon as the history page naming it is handed on. Every reply is delivered
 * once: the parent the replies endpoint echoes is dropped, and so is a reply
 * the history also served (a broadcast reply).
 *
 * Checkpoints cover a walk that is inside a thread: each batch's checkpoint
 * names the history position after its page, the parents of that page still
 * to walk, and the position inside the first of them.
 *
 * Later runs (--incremental, the archive: a watermark is known) read the
 * history past the watermark too, without keeping its old messages, to see
 * each parent's reply count and latest reply: a thread whose pair changed
 * since the run that last walked it (the thread book) is walked again, and
 * only its replies newer than that run's newest are kept — a reply added to a
 * month-old thread is in the next run.
 */
import type { Entry, Provider } from '../providers/types.js';
import type { ThreadRef } from '../providers/replies.js';
import { walkCursor } from './cursor.js';
import { walkPages } from './pages.js';
import { walkSequential } from './sequential.js';
import type { PlainCheckpoint, WalkBatch, WalkCheckpoint, WalkOptions } from './types.js';

/** What a later run knows of a thread: its parent's pair when last walked, and the newest reply then. */
export interface ThreadState {
  count: unknown;
  latest: unknown;
  newest: { time: number; ids: string[] } | null;
}

/** Threads of one channel: what the last run knew, and what this run learned. */
export class ThreadBook {
  readonly threads: Map<string, ThreadState>;
  /** threads walked or confirmed by this run */
  changed = 0;
  constructor(known: Record<string, ThreadState> | undefined) {
    this.threads = new Map(Object.entries(known ?? {}));
  }
  get(id: string): ThreadState | undefined {
    return this.threads.get(id);
  }
  set(id: string, state: ThreadState): void {
    this.threads.set(id, state);
    this.changed++;
  }
  toJSON(): Record<string, ThreadState> {
    return Object.fromEntries(this.threads);
  }
}

export interface ThreadWalkOptions {
  /** the channel's own walk */
  options: WalkOptions;
  /** the thread book of the last run (incremental, archive); undefined: every thread is new */
  book: ThreadBook;
  /** the watermark: messages at or before it were delivered by an earlier run */
  after: { time: number; ids: ReadonlySet<string> } | undefined;
  /** the usual early stop of a newest-first walk (--since, the watermark) */
  passed: (oldest: number | undefined) => boolean;
  /** --since: below it nothing is wanted, not even a thread's new replies */
  since: number | undefined;
}

/** The walkers by paging kind: a thread is walked exactly as a channel is. */
export function walkerFor(provider: Provider, options: WalkOptions): AsyncGenerator<WalkBatch> {
  switch (provider.paging) {
    case 'cursor':
      return walkCursor(provider, options);
    case 'pages':
      return walkPages(provider, options);
    case 'sequential':
      return walkSequential(provider, options);
  }
}

type ThreadsCheckpoint = Extract<WalkCheckpoint, { kind: 'threads' }>;

export async function* walkWithThreads(provider: Provider, walk: ThreadWalkOptions): AsyncGenerator<WalkBatch> {
  const replies = provider.replies!;
  const { options, book, after } = walk;
  const resumed = options.resumeFrom?.kind === 'threads' ? options.resumeFrom : undefined;
  // history entries that are replies (broadcast): their thread walk must not deliver them again
  const inHistory = new Set<string>(resumed?.broadcast ?? []);
  // parents whose thread this run walked: a history served oldest first meets their broadcast replies after
  const walked = new Set<string>();
  let main: PlainCheckpoint | undefined = resumed ? (resumed.main ?? undefined) : (options.resumeFrom as PlainCheckpoint | undefined);
  let sweeping = resumed?.sweeping ?? false;
  const checkpoint = (pending: ThreadRef[], inner: PlainCheckpoint | undefined): WalkCheckpoint =>
    pending.length === 0 && !sweeping
      ? (main ?? { kind: 'sequential', position: { start: true }, lastIds: [] })
      : { kind: 'threads', main: main ?? null, pending, inner: inner ?? null, broadcast: [...inHistory], sweeping };

  /** The threads of one history page, one after the other; yields their replies. */
  async function* threadsOf(pending: ThreadRef[], inner: PlainCheckpoint | undefined): AsyncGenerator<WalkBatch> {
    let resumeFrom = inner;
    while (pending.length > 0) {
      const parent = pending[0]!;
      const known = after ? book.get(parent.id) : undefined;
      let newest = known?.newest ?? null;
      const thread = replies.threadProvider(parent);
      const label = replies.label(options.target, parent);
      for await (const batch of walkerFor(thread, { ...options, label, resumeFrom })) {
        const entries: Entry[] = [];
        for (const entry of batch.entries) {
          const id = entry.message.id;
          if (id === parent.id) continue;
          if (!newest || entry.time > newest.time) newest = { time: entry.time, ids: [id] };
          else if (entry.time === newest.time && !newest.ids.includes(id)) newest.ids.push(id);
          if (inHistory.has(id)) continue;
          // a thread walked before: only what is newer than that walk's newest reply
          if (known?.newest && (entry.time < known.newest.time || (entry.time === known.newest.time && known.newest.ids.includes(id)))) continue;
          entries.push(entry);
        }
        yield {
          ...batch,
          entries,
          oldest: undefined,
          total: undefined,
          // the walkers' own positions are plain
          checkpoint: checkpoint(pending, batch.checkpoint as PlainCheckpoint),
          // a known thread's new replies may be dated before the watermark (posted during that run)
          ...(known ? { replies: 'known' as const } : { replies: 'new' as const }),
        };
      }
      walked.add(parent.id);
      book.set(parent.id, { count: parent.count, latest: parent.latest, newest });
      pending = pending.slice(1);
      resumeFrom = undefined;
    }
  }

  if (resumed && resumed.pending.length > 0) yield* threadsOf(resumed.pending, resumed.inner ?? undefined);
  for await (const batch of walkerFor(provider, { ...options, resumeFrom: main })) {
    main = batch.checkpoint as PlainCheckpoint;
    const entries: Entry[] = [];
    const parents: ThreadRef[] = [];
    for (const entry of batch.entries) {
      const { thread, message } = entry;
      if (thread) {
        delete entry.thread;
        if (needsWalk(thread)) parents.push(thread);
      }
      if (message.replyTo !== null) {
        // a broadcast reply: delivered here, or already by its thread (served oldest first)
        if (walked.has(message.replyTo)) continue;
        inHistory.add(message.id);
      }
      if (!sweeping) entries.push(entry);
    }
    // the history page first (its checkpoint names the threads still to walk), then its threads
    yield { ...batch, entries, oldest: undefined, checkpoint: checkpoint(parents, undefined) };
    yield* threadsOf(parents, undefined);
    if (walk.since !== undefined && batch.oldest !== undefined && batch.oldest < walk.since) return;
    if (walk.passed(batch.oldest)) {
      // past the watermark: read on only to see which old threads changed
      if (after === undefined) return;
      sweeping = true;
    }
  }

  /** A parent whose thread the last run walked with the same reply count and latest reply needs no walk. */
  function needsWalk(parent: ThreadRef): boolean {
    if (after === undefined) return true;
    const known = book.get(parent.id);
    if (!known) return true;
    const same = parent.count !== null || parent.latest !== null;
    return !(same && JSON.stringify(known.count) === JSON.stringify(parent.count) && JSON.stringify(known.latest) === JSON.stringify(parent.latest));
  }
}

export type { ThreadsCheckpoint };
