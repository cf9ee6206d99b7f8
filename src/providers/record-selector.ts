/**
 * The record selector (Airbyte's RecordSelector): where a stream's records
 * are in an answer (an expression), the page-wide indexes its expressions
 * may use (`lookups`: `$users` keyed by id), and which records to keep (the
 * filter). Every expression of a stream is compiled against the variables
 * the selector provides (`$page` and its lookups).
 */
import { compileExpression, createScope, type Expr, type ExprScope } from './expression.js';
import { FieldIssue, truthy } from './field-values.js';

export interface RecordSpec {
  /** the list of records; null or missing = an empty page */
  records: string;
  /** which records to keep (truthy = keep) */
  filter?: string | undefined;
  lookups?: Readonly<Record<string, { from: string; key: string }>> | undefined;
}

export interface Selection {
  /** every record in the answer, before the filter */
  all: unknown[];
  /** the records the filter kept (`all` itself without a filter) */
  items: unknown[];
  /** `$page` and the lookups: the scope every field expression of this page runs in */
  scope: ExprScope;
}

export interface RecordSelector {
  /** The variables the stream's expressions may use. */
  variables: string[];
  /** Compiles one of the stream's expressions against those variables. */
  compile(text: string): Expr;
  /** `$page` alone: for the envelope check, which runs before lookups are built. */
  pageScope(body: unknown): ExprScope;
  /** `dropped` sees each record the filter leaves out (a time cursor still moves past it). */
  select(body: unknown, pageScope: ExprScope, dropped?: (record: unknown, scope: ExprScope) => void): Selection;
}

/**
 * Variables a whole run shares (`$people`, the directory walked once per run): named when the definition is
 * compiled, their values set once the run has them.
 */
export interface RunScope {
  readonly names: readonly string[];
  values: Record<string, unknown>;
}

export function compileRecordSelector(spec: RecordSpec, run?: RunScope): RecordSelector {
  const variables = ['page', ...(run?.names ?? []), ...Object.keys(spec.lookups ?? {})];
  const compile = (text: string): Expr => compileExpression(text, variables);
  const records = compile(spec.records);
  const filter = spec.filter === undefined ? undefined : compile(spec.filter);
  const lookups = Object.entries(spec.lookups ?? {}).map(([key, lookup]) => ({ key, from: compile(lookup.from), id: compile(lookup.key) }));

  return {
    variables,
    compile,
    pageScope: (body) => createScope(run ? { ...run.values, page: body } : { page: body }),
    select(body, early, dropped) {
      let scope = early;
      if (lookups.length > 0) {
        const values: Record<string, unknown> = { ...run?.values, page: body };
        for (const lookup of lookups) values[lookup.key] = indexOf(lookup, body, early);
        scope = createScope(values);
      }
      const found = records(body, scope);
      if (found !== null && !Array.isArray(found)) throw new FieldIssue(spec.records, 'expected a list of records');
      const all = (found ?? []) as unknown[];
      if (!filter) return { all, items: all, scope };
      const items: unknown[] = [];
      for (const record of all) {
        if (truthy(filter(record, scope))) items.push(record);
        else dropped?.(record, scope);
      }
      return { all, items, scope };
    },
  };
}

function indexOf(lookup: { from: Expr; id: Expr }, body: unknown, scope: ExprScope): Record<string, unknown> {
  const index: Record<string, unknown> = Object.create(null);
  const list = lookup.from(body, scope);
  if (Array.isArray(list)) {
    for (const item of list) {
      const key = lookup.id(item, scope);
      if (key !== null && typeof key !== 'object') index[String(key)] = item;
    }
  }
  return index;
}
