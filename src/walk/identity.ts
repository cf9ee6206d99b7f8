/**
 * What a stored walk position means. A page number, an offset or a token is
 * a position only under the page size it was counted in, the definition that
 * built the requests, the order served and the window walked: continued under
 * another, it points somewhere else and the messages in between are lost
 * without a sign. A walk is continued only under the identity it was stored
 * with (the archive's unfinished walk, a --resume checkpoint).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Provider } from '../providers/types.js';

export const walkIdentitySchema = z.object({
  /** the page size the walker sends (--page-size within the definition's bounds) */
  pageSize: z.number(),
  /** digest of the definition in force */
  definition: z.string(),
  order: z.enum(['newest-first', 'oldest-first']),
  /** the window walked (epoch ms), null when unbounded */
  since: z.number().nullable(),
  until: z.number().nullable(),
});

export type WalkIdentity = z.infer<typeof walkIdentitySchema>;

/** The page size a walker sends: --page-size within what the provider takes (as asked when it takes none). */
export function pageSizeFor(provider: Provider, pageSize: number): number {
  return provider.takesPageSize ? Math.min(Math.max(1, pageSize), provider.maxPageSize) : pageSize;
}

/** Short digest of a definition: an edit to it (paging, filters, fields) makes another walk. */
export function definitionDigest(provider: Provider): string {
  return createHash('sha256').update(JSON.stringify(provider.definition)).digest('hex').slice(0, 16);
}

export function walkIdentity(provider: Provider, pageSize: number, window: { since?: number | undefined; until?: number | undefined }): WalkIdentity {
  return {
    pageSize: pageSizeFor(provider, pageSize),
    definition: definitionDigest(provider),
    order: provider.order,
    since: window.since ?? null,
    until: window.until ?? null,
  };
}

/**
 * "--page-size 10 → 50, another provider definition": why a stored position
 * is not this walk's; undefined when it is. A position stored without an
 * identity (an earlier version) is never taken for this walk's.
 */
export function identityChange(saved: WalkIdentity | undefined, now: WalkIdentity): string | undefined {
  if (!saved) return 'an earlier version of chat-export';
  const changes: string[] = [];
  if (saved.pageSize !== now.pageSize) changes.push(`--page-size ${saved.pageSize} → ${now.pageSize}`);
  if (saved.definition !== now.definition) changes.push('another provider definition');
  if (saved.order !== now.order) changes.push(`the order served ${saved.order} → ${now.order}`);
  const when = (ms: number | null) => (ms === null ? 'none' : new Date(ms).toISOString());
  if (saved.since !== now.since) changes.push(`--since ${when(saved.since)} → ${when(now.since)}`);
  if (saved.until !== now.until) changes.push(`--until ${when(saved.until)} → ${when(now.until)}`);
  return changes.length > 0 ? changes.join(', ') : undefined;
}
