/**
 * `dump --all-channels`: which listed channels a run exports (`--include` /
 * `--exclude` globs on names or ids, `--kind`), which it skips as unreadable,
 * and the file-name-safe `{name}` of each (DESIGN.md section 4c).
 */
import { UsageError } from '../errors.js';
import type { ListedChannel } from '../providers/types.js';

export interface ChannelFilter {
  include: readonly string[];
  exclude: readonly string[];
  kinds: readonly string[];
}

export interface ChannelChoice {
  /** readable channels the filter keeps, in listed order */
  chosen: ListedChannel[];
  /** channels the filter keeps that the listing says may not be read */
  unreadable: ListedChannel[];
}

/**
 * A shell glob (`*`, `?`, `[abc]`, `[!abc]`) as a regular expression over a
 * whole name. Names match without regard to case (`#General` is `general`);
 * ids are compared as written.
 */
export function globPattern(glob: string, flag: string): { name: RegExp; id: RegExp } {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i]!;
    if (char === '*') source += '.*';
    else if (char === '?') source += '.';
    else if (char === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) throw new UsageError(`${flag} ${JSON.stringify(glob)}: a [ without its ]`);
      let set = glob.slice(i + 1, end);
      if (set.startsWith('!')) set = `^${set.slice(1)}`;
      source += `[${set.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else source += char.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return { name: new RegExp(`^${source}$`, 'isu'), id: new RegExp(`^${source}$`, 'su') };
}

function matcher(globs: readonly string[], flag: string): (channel: ListedChannel) => boolean {
  const patterns = globs.map((glob) => globPattern(glob, flag));
  return (channel) => patterns.some((p) => p.id.test(channel.id) || (channel.name !== null && p.name.test(channel.name)));
}

/** The listed channels a run exports, and the unreadable ones it names as skipped. */
export function chooseChannels(listed: readonly ListedChannel[], filter: ChannelFilter): ChannelChoice {
  const included = filter.include.length > 0 ? matcher(filter.include, '--include') : () => true;
  const excluded = filter.exclude.length > 0 ? matcher(filter.exclude, '--exclude') : () => false;
  const kinds = new Set(filter.kinds.map((kind) => kind.toLowerCase()));
  const chosen: ListedChannel[] = [];
  const unreadable: ListedChannel[] = [];
  const seen = new Set<string>();
  for (const channel of listed) {
    // a channel two listings both name (an active thread also in an archived page) is one channel
    if (seen.has(channel.id)) continue;
    seen.add(channel.id);
    if (!included(channel) || excluded(channel)) continue;
    if (kinds.size > 0 && !kinds.has((channel.kind ?? '').toLowerCase())) continue;
    (channel.readable ? chosen : unreadable).push(channel);
  }
  return { chosen, unreadable };
}

const MAX_NAME_BYTES = 120;
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[1-9]|lpt[1-9])(\..*)?$/i;

/**
 * A channel name as one file-name segment that keeps what a person reads
 * (letters of any script, emoji, spaces): path separators, characters
 * Windows refuses, control and bidirectional-override characters become `_`;
 * leading dots and trailing dots and spaces go; long names are cut on a
 * character boundary. An empty result is `_`.
 */
export function safeFileName(name: string): string {
  let safe = name
    .normalize('NFC')
    .replace(/[\u0000-\u001f\u007f-\u009f/\\:*?"<>|\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu, '_')
    .trim()
    .replace(/^\.+/, (dots) => '_'.repeat(dots.length))
    .replace(/[. ]+$/, '');
  if (Buffer.byteLength(safe) > MAX_NAME_BYTES) {
    let cut = '';
    for (const char of safe) {
      if (Buffer.byteLength(cut + char) > MAX_NAME_BYTES) break;
      cut += char;
    }
    safe = cut.replace(/[. ]+$/, '');
  }
  if (WINDOWS_RESERVED.test(safe)) safe = `_${safe}`;
  return safe === '' ? '_' : safe;
}

/**
 * `{name}` of every channel: its safe name, or — when two channels' names
 * come out the same (compared without case: macOS and Windows file systems
 * ignore it) — the name with the id appended, for each of them. Never one
 * file for two channels.
 */
export function fileNamesOf(channels: readonly ListedChannel[]): Map<string, string> {
  const base = new Map(channels.map((c) => [c.id, safeFileName(c.name ?? c.id)]));
  const count = new Map<string, number>();
  for (const name of base.values()) count.set(name.toLowerCase(), (count.get(name.toLowerCase()) ?? 0) + 1);
  const names = new Map<string, string>();
  const appended = new Set<string>();
  for (const [id, name] of base) {
    if ((count.get(name.toLowerCase()) ?? 0) < 2) names.set(id, name);
    else {
      names.set(id, safeFileName(`${name}-${id}`));
      appended.add(id);
    }
  }
  // a name with its id appended that meets another channel's own name: the id alone
  const taken = new Map<string, number>();
  for (const name of names.values()) taken.set(name.toLowerCase(), (taken.get(name.toLowerCase()) ?? 0) + 1);
  for (const id of appended) if ((taken.get(names.get(id)!.toLowerCase()) ?? 0) > 1) names.set(id, safeFileName(id));
  return names;
}
