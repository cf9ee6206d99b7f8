/**
 * The normalized message of DESIGN.md section 3. Key order is part of the
 * contract (it is the JSONL line), so messages are always built through
 * createMessage, whose object literal fixes that order.
 */
export interface Sender {
  id: string;
  name: string | null;
  avatar: string | null;
  /** --media: the downloaded avatar, relative to the output file */
  avatarFile?: string;
}

export interface Attachment {
  url: string;
  name: string | null;
  type: string | null;
  /** --media: the downloaded file, relative to the output file */
  file?: string;
}

export interface Message {
  id: string;
  provider: string;
  channel: string;
  timestamp: string;
  sender: Sender;
  type: string;
  text: string;
  replyTo: string | null;
  editedAt: string | null;
  deleted: boolean;
  attachments: Attachment[];
  raw?: unknown;
}

export interface MessageFields {
  id: string;
  provider: string;
  channel: string;
  /** epoch ms */
  time: number;
  sender: Sender;
  type: string;
  text: string;
  replyTo?: string | null;
  /** epoch ms of the provider's update time; kept only when later than `time` */
  updatedTime?: number | null;
  deleted?: boolean;
  attachments?: Attachment[];
}

/** JavaScript dates reach ±8.64e15 ms (about ±275,000 years) and no further. */
const MAX_TIME_MS = 8.64e15;

/**
 * One message carries a value nothing can represent (a time outside the JS
 * date range): the walk reports it by id as missing (exit 5) and goes on,
 * instead of retrying the page and failing the whole channel.
 */
export class ImpossibleValueError extends Error {
  constructor(readonly id: string, readonly what: string) {
    super(`message ${id}: ${what}`);
  }
}

function checkTime(id: string, field: string, ms: number | null | undefined): void {
  if (ms == null) return;
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_TIME_MS) throw new ImpossibleValueError(id, `${field} out of range (${ms})`);
}

export function createMessage(fields: MessageFields, raw?: unknown): Message {
  checkTime(fields.id, 'timestamp', fields.time);
  checkTime(fields.id, 'update time', fields.updatedTime);
  const message: Message = {
    id: fields.id,
    provider: fields.provider,
    channel: fields.channel,
    timestamp: isoTime(fields.time),
    sender: { id: fields.sender.id, name: fields.sender.name, avatar: fields.sender.avatar },
    type: fields.type,
    text: fields.text,
    replyTo: fields.replyTo ?? null,
    editedAt:
      fields.updatedTime != null && fields.updatedTime > fields.time
        ? new Date(fields.updatedTime).toISOString()
        : null,
    deleted: fields.deleted ?? false,
    attachments: fields.attachments ?? [],
  };
  if (raw !== undefined) message.raw = raw;
  return message;
}

const DAY_MS = 86_400_000;
let cachedDay = NaN;
let cachedDayPrefix = '';

/**
 * `Date#toISOString`, faster for the common case: messages come in runs on
 * the same day, so the date part is formatted once per day. Same output.
 */
export function isoTime(ms: number): string {
  const day = Math.floor(ms / DAY_MS);
  if (day !== cachedDay) {
    const iso = new Date(ms).toISOString();
    // outside years 0000–9999 the format has a sign and more digits: leave those to Date
    if (iso.length !== 24) return iso;
    cachedDay = day;
    cachedDayPrefix = iso.slice(0, 11);
  }
  let rest = ms - day * DAY_MS;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = Math.floor(rest / 1000);
  const milli = rest - s * 1000;
  return `${cachedDayPrefix}${h < 10 ? '0' : ''}${h}:${m < 10 ? '0' : ''}${m}:${s < 10 ? '0' : ''}${s}.${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}

/** Epoch ms of a normalized message (its ISO timestamp is always UTC with ms). */
export function messageTime(message: Message): number {
  return Date.parse(message.timestamp);
}

/**
 * Ids that are both decimal integers compare numerically (relation ids are
 * 19-digit snowflakes); others as text. The tie-break of the spool's order.
 */
export function compareIds(a: string, b: string): number {
  if (a === b) return 0;
  const numeric = /^\d+$/;
  if (numeric.test(a) && numeric.test(b)) {
    const x = a.replace(/^0+(?=\d)/, '');
    const y = b.replace(/^0+(?=\d)/, '');
    if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  }
  return a < b ? -1 : 1;
}
