/**
 * Lists the conversations a definition's `channels` part can see: each
 * listing walked by the same walkers, retries and rate limits as a channel's
 * messages (DESIGN.md section 4c). A channel list is small (thousands of
 * rows, not a history): it is held whole, deduplicated by id in listed order.
 */
import { UnreadableError } from '../errors.js';
import type { ChannelLister, ListedChannel } from '../providers/types.js';
import { walkerFor } from './threads.js';
import type { WalkOptions } from './types.js';

export type ListOptions = Omit<WalkOptions, 'target' | 'pageSize' | 'until' | 'resumeFrom'> & {
  /** --page-size when the user gave one; else each listing's default */
  pageSize?: number | undefined;
};

export async function listChannels(lister: ChannelLister, options: ListOptions): Promise<ListedChannel[]> {
  const listed: ListedChannel[] = [];
  // what later listings' forEach walks under: the channels, and the containers (guilds, forums) that are not channels
  const places: ListedChannel[] = [];
  const seen = new Set<string>();
  for (const listing of lister.listings) {
    // a listing per channel (Discord's archived threads of each text channel) runs over what the ones before it found
    const parents = listing.forEach ? places.filter((c) => c.readable && listing.forEach!(c.raw)) : [undefined];
    for (const parent of parents) {
      const label = parent === undefined ? options.label : `${options.label} (${parent.name ?? parent.id})`;
      try {
        const walk = walkerFor(listing.provider, {
          ...options,
          label,
          target: { id: parent?.id ?? '', kind: 'channel' },
          pageSize: options.pageSize ?? listing.provider.defaultPageSize,
          until: undefined,
        });
        for await (const batch of walk) {
          for (const entry of batch.entries) {
            const channel = entry.channel;
            if (channel === undefined || seen.has(channel.id)) continue;
            seen.add(channel.id);
            places.push(channel);
            if (channel.container !== true) listed.push(channel);
          }
        }
      } catch (error) {
        // A channel the credential may not read has nothing to list either: the channel is skipped later, by name.
        if (parent !== undefined && error instanceof UnreadableError) {
          options.logger.debug(`${label}: not readable; nothing listed under it`);
          continue;
        }
        throw error;
      }
    }
  }
  return listed;
}
