import type { HttpRequest } from '../http/client.js';
import type { Entry, Provider, ProviderPage } from '../providers/types.js';
import type { WalkOptions } from './types.js';

export interface FetchedPage {
  page: ProviderPage;
  entries: Entry[];
}

/**
 * One request, parsed and normalized inside the retry loop: an item that
 * fails its schema is a malformed answer like any other, retried and then
 * reported with its position in the page.
 */
export function fetchEntries(provider: Provider, options: WalkOptions, req: HttpRequest, signal?: AbortSignal): Promise<FetchedPage> {
  const { settings, target } = options;
  return options.http.getJson(
    req,
    (body, response) => {
      const page = provider.parsePage(body, target, response);
      const entries = page.items.map((item, index) => {
        try {
          return provider.normalize(item, target, settings, page);
        } catch (error) {
          throw prefixIssues(error, index);
        }
      });
      // The raw items are not needed past this point (--raw keeps its own reference in
      // each message); letting them go keeps a big page out of the old generation.
      return { page: { ...page, items: [], context: undefined }, entries };
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
