import type { z } from 'zod';
import { UsageError } from '../errors.js';
import { suggestName } from '../text/suggest.js';
import { formatIssues } from '../text/schema-issues.js';
import { definitionSchema, type Definition } from './definition.js';
import { compileDefinition } from './engine.js';
import type { Provider } from './types.js';

/**
 * A definition checked against the schema: one line per problem, each with
 * its full path (`providers.slack.paging.type: …`).
 */
export function parseDefinition(data: unknown, where: string): { definition: Definition } | { problems: string[] } {
  const result = definitionSchema().safeParse(data);
  if (result.success) return { definition: result.data };
  for (const issue of result.error.issues) kindIssue(issue, data);
  return { problems: formatIssues(result.error).map((line) => (/^[^:\s]+: /.test(line) ? `${where}.${line}` : `${where}: ${line}`)) };
}

/**
 * zod says "Invalid discriminator value" for a `type` (paging, auth) that is
 * none of the kinds: say which kinds there are, and the one a typo meant.
 */
function kindIssue(issue: z.core.$ZodIssue, data: unknown): void {
  if (issue.code !== 'invalid_union' || !('options' in issue) || !Array.isArray(issue.options)) return;
  const kinds = issue.options.map(String);
  let given: unknown = data;
  for (const key of issue.path) {
    given = given !== null && typeof given === 'object' ? (given as Record<PropertyKey, unknown>)[key as PropertyKey] : undefined;
  }
  const guess = typeof given === 'string' ? suggestName(given, kinds) : undefined;
  const got = given === undefined ? '' : `, not ${JSON.stringify(given)}`;
  (issue as { message: string }).message = `expected one of ${kinds.join(', ')}${got}${guess ? ` (did you mean ${guess}?)` : ''}`;
}

/** A user's definition (config "providers"), compiled; invalid = exit 2 naming every problem. */
export function loadDefinition(name: string, data: unknown): Provider {
  const parsed = parseDefinition(data, `providers.${name}`);
  if ('problems' in parsed) {
    throw new UsageError(`invalid provider definition "${name}":\n${parsed.problems.join('\n')}`, {
      hint: 'fix the definition in the config file (chat-export providers show relation prints a working one)',
    });
  }
  return compileDefinition(name, parsed.definition);
}

/**
 * A shipped definition, written out in full (every default explicit), so it
 * is compiled without the schema; test/unit/definition.test.ts checks each
 * one is exactly what the schema makes of it.
 */
export function builtin(name: string, definition: Definition): Provider {
  return compileDefinition(name, definition);
}
