import { UsageError } from '../errors.js';
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
  return { problems: formatIssues(result.error).map((line) => (/^[^:\s]+: /.test(line) ? `${where}.${line}` : `${where}: ${line}`)) };
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
