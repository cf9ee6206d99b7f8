/**
 * `dump --all-channels` (DESIGN.md section 4c): list what the credential can
 * see, choose (`--include`, `--exclude`, `--kind`), name the unreadable ones
 * as skipped, and remember the list so a channel that stops being listed is
 * named (its backup stays as it is).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { UsageError } from '../errors.js';
import type { HttpClient } from '../http/client.js';
import type { Logger } from '../log.js';
import type { ListedChannel, Provider, ProviderSettings } from '../providers/types.js';
import { writeJsonAtomic } from '../state.js';
import { sanitizeForTerminal } from '../text/sanitize.js';
import { listChannels } from '../walk/list-channels.js';
import { chooseChannels, fileNamesOf, type ChannelFilter } from './select-channels.js';

export interface ListingContext {
  provider: Provider;
  settings: ProviderSettings;
  http: HttpClient;
  logger: Logger;
  /** --page-size when given */
  pageSize: number | undefined;
  concurrency: number;
  signal?: AbortSignal | undefined;
}

/** Every channel the definition lists, or exit 2 when it cannot list any. */
export async function listAll(ctx: ListingContext): Promise<ListedChannel[]> {
  const lister = ctx.provider.channels;
  if (!lister) {
    throw new UsageError(`${ctx.provider.name} cannot list its channels: its definition has no "channels" part`, {
      hint: `name them with --channel ID, or add a "channels" part to the definition (README: "Back up a whole workspace")`,
    });
  }
  const stats = { requests: 0, retries: 0 };
  return listChannels(lister, {
    http: ctx.http,
    settings: ctx.settings,
    pageSize: ctx.pageSize,
    concurrency: ctx.concurrency,
    logger: ctx.logger,
    label: `${ctx.provider.name} channel list`,
    signal: ctx.signal,
    stats,
  });
}

export interface ChosenChannels {
  listed: ListedChannel[];
  chosen: ListedChannel[];
  /** `{name}` of each chosen channel: safe for a file name, unique */
  names: Map<string, string>;
}

/** The listed channels this run exports; the unreadable ones the filter keeps are named on stderr as skipped. */
export function choose(listed: ListedChannel[], filter: ChannelFilter, logger: Logger, providerName: string): ChosenChannels {
  const { chosen, unreadable } = chooseChannels(listed, filter);
  for (const channel of unreadable) logger.info(`${providerName}: skipped ${describeChannel(channel)}: not readable with this credential`);
  if (chosen.length === 0) {
    logger.info(`${providerName}: no readable channel ${filter.include.length + filter.exclude.length + filter.kinds.length > 0 ? 'matches the filters' : 'is listed'} (${listed.length} listed)`);
  }
  return { listed, chosen, names: fileNamesOf(chosen) };
}

/** `#general (1190…)`, sanitized for the terminal. */
export function describeChannel(channel: { id: string; name: string | null }): string {
  return sanitizeForTerminal(channel.name === null ? channel.id : `${channel.name} (${channel.id})`);
}

const knownSchema = z.object({
  version: z.literal(1),
  channels: z.array(z.object({ id: z.string(), name: z.string().nullable() })),
});

/** Not a state file name (`state list` shows only those): the list a source's last --all-channels run saw. */
function knownFileName(profile: string, api: string): string {
  return `channel-list-${createHash('sha256').update(`${profile}\0${api}`).digest('hex').slice(0, 12)}.known.json`;
}

/**
 * Channels an earlier `--all-channels` run of this profile and API listed
 * that this one does not (without an archive, which keeps its own list).
 * The file keeps them, so they are named again until they come back.
 */
export async function notListedSince(stateDir: string, profile: string, api: string, listed: readonly ListedChannel[]): Promise<Array<{ id: string; name: string | null }>> {
  const name = knownFileName(profile, api);
  let known: z.infer<typeof knownSchema>['channels'] = [];
  try {
    known = knownSchema.parse(JSON.parse(await readFile(join(stateDir, name), 'utf8'))).channels;
  } catch {
    // none yet, or unreadable: this run's list starts it over
  }
  const now = new Set(listed.map((c) => c.id));
  const gone = known.filter((c) => !now.has(c.id));
  await writeJsonAtomic(stateDir, name, { version: 1, channels: [...listed.map((c) => ({ id: c.id, name: c.name })), ...gone] });
  return gone;
}
