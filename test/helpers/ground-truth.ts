/**
 * What an export of a fixture channel must contain, derived from the fixture
 * server's canonical messages (`server.messages(provider, channel)`), written
 * independently of src/ so the exporter is checked against the contract
 * (DESIGN.md section 3), not against itself.
 */
import type { Api as Provider, CanonicalMessage } from '../../fixtures/server.js';

/** The normalized message, keys in contract order. */
export interface ExportedMessage {
  id: string;
  provider: string;
  channel: string;
  timestamp: string;
  sender: { id: string; name: string | null; avatar: string | null };
  type: string;
  text: string;
  replyTo: string | null;
  editedAt: string | null;
  deleted: boolean;
  attachments: Array<{ url: string; name: string | null; type: string | null }>;
  raw?: unknown;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Discord's message types as the fixture names them → the normalized type a definition maps them to. */
const DISCORD_TYPES: Record<string, string> = { DEFAULT: 'text', REPLY: 'text', USER_JOIN: 'system', CHANNEL_PINNED_MESSAGE: 'system' };

/** Provider type → normalized type: lower-cased, relation SYS → system. */
export function expectedType(provider: Provider, type: string): string {
  if (provider === 'discord') return DISCORD_TYPES[type] ?? type;
  const lower = type.toLowerCase();
  return provider === 'relation' && lower === 'sys' ? 'system' : lower;
}

/** The normalized message the exporter must write for one canonical message (`name`: the provider's name in the output, when a definition names the fixture's API otherwise). */
export function expectedMessage(provider: Provider, channel: string, m: CanonicalMessage, name: string = provider): ExportedMessage {
  return {
    id: m.id,
    provider: name,
    channel,
    timestamp: iso(m.time),
    sender: { id: m.senderId, name: m.senderName, avatar: m.senderAvatar },
    type: expectedType(provider, m.type),
    text: m.text,
    replyTo: m.replyTo,
    editedAt: m.updatedTime !== null && m.updatedTime > m.time ? iso(m.updatedTime) : null,
    deleted: m.deleted,
    attachments: m.attachments.map((a) => ({ url: a.url, name: a.name, type: a.type })),
  };
}

/** The exact JSONL line (key order included). */
export function expectedLine(provider: Provider, channel: string, m: CanonicalMessage, name: string = provider): string {
  return JSON.stringify(expectedMessage(provider, channel, m, name));
}

/** Numeric-aware id order (relation ids are 19 digits: beyond a double). */
export function compareIds(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Oldest first: by time, then id. */
export function chronological<T extends { time: number; id: string }>(messages: readonly T[]): T[] {
  return [...messages].sort((a, b) => a.time - b.time || compareIds(a.id, b.id));
}

/** Canonical ids in the order an export with `--order` must list them. */
export function orderedIds(messages: readonly CanonicalMessage[], order: 'asc' | 'desc' = 'asc'): string[] {
  const ids = chronological(messages).map((m) => m.id);
  return order === 'asc' ? ids : ids.reverse();
}

/** stdout of a JSONL export → messages; throws on a line that is not JSON. */
export function parseJsonl(stdout: string): ExportedMessage[] {
  if (stdout === '') return [];
  if (!stdout.endsWith('\n')) throw new Error('JSONL output does not end with a newline');
  return stdout
    .slice(0, -1)
    .split('\n')
    .map((line, index) => {
      try {
        return JSON.parse(line) as ExportedMessage;
      } catch {
        throw new Error(`line ${index + 1} is not JSON: ${line.slice(0, 120)}`);
      }
    });
}

export interface ExportCheck {
  provider: Provider;
  channel: string;
  /** JSONL lines as written */
  lines: string[];
  /** ground truth when the run started: every one of these must be exported exactly once */
  start: readonly CanonicalMessage[];
  /** ground truth when the run ended: anything exported must be in it (inserts may or may not be) */
  end: readonly CanonicalMessage[];
  order: 'asc' | 'desc';
  /** the provider's name in the output, when a definition names the fixture's API otherwise */
  name?: string;
}

/**
 * Everything wrong with an export, as readable sentences; [] when it is
 * exactly right: each start message once, nothing unknown, every line equal
 * to the expected line, lines in the requested order.
 */
export function exportProblems(check: ExportCheck): string[] {
  const problems: string[] = [];
  const { provider, channel, lines } = check;
  const endById = new Map(check.end.map((m) => [m.id, m]));
  const seen = new Map<string, number>();
  const parsed: Array<{ id: string; time: number }> = [];
  for (const [index, line] of lines.entries()) {
    let message: ExportedMessage;
    try {
      message = JSON.parse(line) as ExportedMessage;
    } catch {
      problems.push(`line ${index + 1} is not JSON`);
      continue;
    }
    const id = String(message.id);
    seen.set(id, (seen.get(id) ?? 0) + 1);
    parsed.push({ id, time: Date.parse(message.timestamp) });
    const truth = endById.get(id);
    if (!truth) {
      problems.push(`line ${index + 1}: id ${id} is not in the history`);
      continue;
    }
    const expected = expectedLine(provider, channel, truth, check.name);
    if (line !== expected) problems.push(`line ${index + 1}: id ${id}\n  got      ${line}\n  expected ${expected}`);
  }
  for (const [id, count] of seen) if (count > 1) problems.push(`id ${id} exported ${count} times`);
  const missing = check.start.filter((m) => !seen.has(m.id));
  if (missing.length > 0) {
    problems.push(`${missing.length} messages lost, e.g. ${missing.slice(0, 5).map((m) => m.id).join(', ')}`);
  }
  const sorted = chronological(parsed);
  if (check.order === 'desc') sorted.reverse();
  const firstOff = parsed.findIndex((row, i) => row.id !== sorted[i]!.id);
  if (firstOff >= 0) problems.push(`not in ${check.order} order from line ${firstOff + 1} (id ${parsed[firstOff]!.id})`);
  return problems;
}

/** ids of the exported lines that were already in the history at the start, in export order. */
export function startIdsIn(lines: string[], start: readonly CanonicalMessage[]): string[] {
  const known = new Set(start.map((m) => m.id));
  return lines.map((line) => String((JSON.parse(line) as ExportedMessage).id)).filter((id) => known.has(id));
}

/** Non-empty lines of a stdout. */
export function linesOf(stdout: string): string[] {
  return stdout.split('\n').filter((line) => line !== '');
}

/** The ids of a JSONL export, in file order. */
export function jsonlIds(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (JSON.parse(line) as { id: string }).id);
}

/** The server's ids for a channel right now, oldest first (ids of a newest-first list, reversed). */
export function truthIds(server: { messages(provider: Provider, channel: string): readonly CanonicalMessage[] }, provider: Provider, channel: string): string[] {
  return server
    .messages(provider, channel)
    .map((m) => m.id)
    .reverse();
}
