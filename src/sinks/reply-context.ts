/**
 * What a reply shows of the message it quotes: the quoted author and the
 * start of its text, when that message is in the export (DESIGN.md section 3).
 *
 * Memory stays bounded whatever the history's size: a first pass over the
 * ordered spool collects only the ids that replies quote (at most
 * MAX_QUOTED of them), a second pass keeps a short context for exactly those.
 * Both passes scan lines without parsing them unless they matter, so they
 * cost a fraction of the write that follows. The quoted message may come
 * before or after its reply (--order desc): the index does not care.
 */
import type { Message } from '../message.js';
import { cleanText } from '../text/escape-markdown.js';

export interface ReplyContext {
  /** sender name, else sender id */
  author: string;
  /** the first TEXT_START characters of its text, on one line */
  text: string;
  /** its position in the export (0 = first written), to find its part in a partitioned export */
  position: number;
}

export interface ReplyIndex {
  get(id: string): ReplyContext | undefined;
}

export const EMPTY_REPLY_INDEX: ReplyIndex = { get: () => undefined };

const MAX_QUOTED = 50_000;
const TEXT_START = 80;
const REPLY_KEY = '"replyTo":';
const ID_PREFIX = '{"id":"';

/** Lines of the spool in export order: JSONL of normalized messages. */
export type LineSource = () => AsyncIterable<string>;

export async function buildReplyIndex(lines: LineSource, window: { skip: number; take: number } = { skip: 0, take: Infinity }): Promise<ReplyIndex> {
  const quoted = new Map<string, ReplyContext | null>();
  for await (const line of sliced(lines(), window)) {
    if (quoted.size >= MAX_QUOTED) break;
    const replyTo = replyToOf(line);
    if (replyTo !== null && !quoted.has(replyTo)) quoted.set(replyTo, null);
  }
  if (quoted.size === 0) return EMPTY_REPLY_INDEX;
  let position = 0;
  for await (const line of sliced(lines(), window)) {
    const id = idOf(line);
    if (quoted.get(id) === null) {
      const message = JSON.parse(line) as Message;
      quoted.set(id, { author: authorOf(message), text: textStart(message.text), position });
    }
    position++;
  }
  return { get: (id) => quoted.get(id) ?? undefined };
}

export function authorOf(message: Pick<Message, 'sender'>): string {
  const name = message.sender.name?.trim();
  return name ? name : message.sender.id;
}

/** One line, control characters gone, cut at TEXT_START characters (not inside a surrogate pair). */
export function textStart(text: string): string {
  const flat = cleanText(text).replace(/\s+/g, ' ').trim();
  const chars = Array.from(flat);
  return chars.length > TEXT_START ? `${chars.slice(0, TEXT_START).join('')}…` : flat;
}

async function* sliced(lines: AsyncIterable<string>, window: { skip: number; take: number }): AsyncIterable<string> {
  let index = 0;
  let taken = 0;
  for await (const line of lines) {
    if (index++ < window.skip) continue;
    if (taken++ >= window.take) return;
    yield line;
  }
}

/**
 * The normalized replyTo of a JSONL line without parsing it. Keys are in a
 * fixed order and every string before `raw` is JSON-escaped, so the first
 * `"replyTo":` outside a string is the message's own.
 */
function replyToOf(line: string): string | null {
  const at = line.indexOf(REPLY_KEY);
  if (at < 0) return null;
  const start = at + REPLY_KEY.length;
  if (line.startsWith('null', start)) return null;
  return (JSON.parse(line) as Message).replyTo;
}

function idOf(line: string): string {
  if (line.startsWith(ID_PREFIX)) {
    const end = line.indexOf('"', ID_PREFIX.length);
    const id = line.slice(ID_PREFIX.length, end);
    if (end > 0 && !id.includes('\\')) return id;
  }
  return (JSON.parse(line) as Message).id;
}

/** [id, author, text start] of messages already written, kept in an --incremental state. */
export type ReplyWindow = Array<[string, string, string]>;

/** How many of the last messages an --incremental Markdown transcript remembers for later replies. */
export const REPLY_WINDOW = 2_000;

/**
 * An index that also knows the messages of earlier runs (their window): an
 * --incremental append then quotes an older message just as a full export would.
 */
export function withEarlier(index: ReplyIndex, earlier: ReplyWindow | undefined): ReplyIndex {
  if (!earlier || earlier.length === 0) return index;
  const known = new Map(earlier.map(([id, author, text]) => [id, { author, text, position: -1 }]));
  return { get: (id) => index.get(id) ?? known.get(id) };
}

/** The window after this run: the earlier one followed by this run's messages, the last REPLY_WINDOW kept. */
export async function nextReplyWindow(earlier: ReplyWindow | undefined, lines: LineSource, window: { skip: number; take: number }): Promise<ReplyWindow> {
  const ring: string[] = [];
  let count = 0;
  for await (const line of sliced(lines(), window)) ring[count++ % REPLY_WINDOW] = line;
  const start = count > REPLY_WINDOW ? count % REPLY_WINDOW : 0;
  const recent = [...ring.slice(start), ...ring.slice(0, start)];
  const added: ReplyWindow = recent.map((line) => {
    const message = JSON.parse(line) as Message;
    return [message.id, authorOf(message), textStart(message.text)];
  });
  return [...(earlier ?? []), ...added].slice(-REPLY_WINDOW);
}
