import type { HttpRequest } from '../http/client.js';
import { ImpossibleValueError } from '../message.js';
import type { Entry, Provider, ProviderPage } from '../providers/types.js';
import { sanitizeForTerminal } from '../text/sanitize.js';
import type { WalkOptions } from './types.js';

export interface FetchedPage {
  page: ProviderPage;
  entries: Entry[];
  /** messages left out because they hold an impossible value (WalkBatch.missing) */
  missing: Array<{ reason: string; count: number }>;
}

/**
 * One request, parsed and normalized inside the retry loop: an item that
 * fails its schema is a malformed answer like any other, retried and then
 * reported with its position in the page.
 */
export function fetchEntries(
  provider: Provider,
  options: WalkOptions,
  req: HttpRequest,
  signal?: AbortSignal,
  /** told the parsed page before its items are normalized (again for an answer read again) */
  onPage?: (page: ProviderPage) => void,
): Promise<FetchedPage> {
  const { settings, target } = options;
  return options.http.getJson(
    req,
    (body, response) => {
      const page = provider.parsePage(body, target, response);
      onPage?.(page);
      const entries: Entry[] = [];
      const missing: FetchedPage['missing'] = [];
      page.items.forEach((item, index) => {
        try {
          entries.push(provider.normalize(item, target, settings, page));
        } catch (error) {
          // One message nothing can represent is counted missing (exit 5); the rest of the page is good.
          if (error instanceof ImpossibleValueError) missing.push({ reason: sanitizeForTerminal(error.message), count: 1 });
          else throw prefixIssues(error, index);
        }
      });
      // The raw items are not needed past this point (--raw keeps its own reference in
      // each message); letting them go keeps a big page out of the old generation.
      return { page: { ...page, items: [], context: undefined }, entries, missing };
    },
    { label: options.label, signal: signal ?? options.signal, describeStatus: provider.describeStatus, stats: options.stats },
  );
}

/** The item's place in the page goes in front of each schema issue's path; the client prints them. */
function prefixIssues(error: unknown, index: number): unknown {
  if (error && typeof error === 'object' && 'issues' in error && Array.isArray((error as { issues: unknown[] }).issues)) {
    const issues = (error as { issues: Array<{ path: PropertyKey[]; message: string }> }).issues;
    return { issues: issues.map((issue) => ({ ...issue, path: [`item ${index}`, ...issue.path] })) };
  }
  return error;
}
