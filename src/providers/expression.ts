/**
 * Expressions of provider definitions: JMESPath (the community edition, which
 * adds `$` for the root, `let`, variables and the ternary operator), compiled
 * once per definition and evaluated per field per message.
 *
 * Why JMESPath: measured on the field map of a relation message (8 fields,
 * 100k records, see the README's "Add your own API"), compiled JMESPath ran at
 * ~65 ns per field; jsonpath-rfc9535 at ~5 µs and JSONata 2 (async evaluate)
 * at ~15 µs. JSONPath also cannot build values (maps, conditionals, joins).
 *
 * Evaluation context: the record is `@` (and `$`); `$page` is the whole
 * response body; each lookup of the definition is a variable (`$users`), read
 * with `lookup($users, key)`.
 */
import { compile, register, Scope, TreeInterpreter, TYPE_ANY, TYPE_NULL, TYPE_OBJECT } from '@jmespath-community/jmespath';

type Node = ReturnType<typeof compile>;
type ScopeChain = ReturnType<typeof Scope>;

/** Variables every expression may use besides the definition's lookups. */
export const BUILTIN_VARIABLES = ['page'] as const;

/**
 * The interpreter's scope and root are set per evaluation: the library's
 * `search` clears the scope, and functions taking `&expression` (map, sort_by)
 * evaluate through this shared instance, so a per-call `withScope` copy would
 * lose the variables inside them.
 */
interface Interpreter {
  _rootValue: unknown;
  _scope: ScopeChain;
  visit(node: Node, value: unknown): unknown;
}
const interpreter = TreeInterpreter as unknown as Interpreter;

// `lookup(map, key)`: JMESPath cannot index an object by a computed key.
register(
  'lookup',
  (args) => {
    const [map, key] = args as [Record<string, unknown> | null, unknown];
    if (map === null || typeof map !== 'object' || key === null || key === undefined || typeof key === 'object') return null;
    return (Object.hasOwn(map, String(key)) ? (map[String(key)] as never) : null) ?? null;
  },
  [{ types: [TYPE_OBJECT, TYPE_NULL] }, { types: [TYPE_ANY] }],
);

/** Per-page evaluation scope: `$page` and the page's lookups. */
export type ExprScope = ScopeChain;

const EMPTY_SCOPE: ScopeChain = Scope();

export function createScope(variables: Record<string, unknown>): ExprScope {
  return Scope().withScope(variables as never);
}

export type Expr = (value: unknown, scope?: ExprScope) => unknown;

export class ExpressionError extends Error {}

/**
 * Compiles once; checks that every `$variable` is one the definition provides
 * (an unknown one would only fail at run time, on the first message).
 */
export function compileExpression(text: string, variables?: readonly string[]): Expr {
  let node: Node;
  try {
    node = compile(text);
  } catch (error) {
    throw new ExpressionError(`not a JMESPath expression: ${(error as Error).message.split('\n')[0]}`);
  }
  const unknown = variables ? freeVariables(node).filter((name) => !variables.includes(name)) : [];
  if (variables && unknown.length > 0) {
    throw new ExpressionError(`unknown variable ${unknown.map((v) => `$${v}`).join(', ')} (known: ${variables.map((v) => `$${v}`).join(', ')})`);
  }
  return fastPath(node) ?? ((value, scope) => {
    interpreter._rootValue = value;
    interpreter._scope = scope ?? EMPTY_SCOPE;
    return interpreter.visit(node, value);
  });
}

/**
 * Most field expressions are plain paths (`fromName`, `attributes.created_at`):
 * those read the properties directly, with JMESPath's semantics (a missing key
 * or a non-object is null). Everything else goes through the interpreter.
 */
function fastPath(node: Node): Expr | undefined {
  const names = fieldChain(node);
  if (names) {
    if (names.length === 1) {
      const [a] = names as [string];
      return (value) => field(value, a);
    }
    if (names.length === 2) {
      const [a, b] = names as [string, string];
      return (value) => field(field(value, a), b);
    }
    return (value) => {
      let current = value;
      for (const name of names) current = field(current, name);
      return current;
    };
  }
  if (node.type === 'Literal') {
    const constant = node.value;
    return () => constant;
  }
  if (node.type === 'Current' || node.type === 'Identity') return (value) => value;
  return undefined;
}

function field(value: unknown, name: string): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  return (value as Record<string, unknown>)[name] ?? null;
}

function fieldChain(node: Node): string[] | undefined {
  if (node.type === 'Field') return [node.name];
  if (node.type === 'Subexpression') {
    const left = fieldChain(node.left);
    const right = fieldChain(node.right);
    return left && right ? [...left, ...right] : undefined;
  }
  return undefined;
}

/** `$name` references not bound by an enclosing `let`. */
function freeVariables(root: Node): string[] {
  const found = new Set<string>();
  const walk = (node: unknown, bound: ReadonlySet<string>): void => {
    if (node === null || typeof node !== 'object') return;
    const n = node as { type?: string; name?: string; bindings?: Array<{ variable: string; reference: unknown }>; expression?: unknown };
    if (n.type === 'Literal') return;
    if (n.type === 'Variable' && typeof n.name === 'string') {
      if (!bound.has(n.name)) found.add(n.name);
      return;
    }
    if (n.type === 'LetExpression' && n.bindings) {
      const inner = new Set(bound);
      for (const binding of n.bindings) {
        walk(binding.reference, bound);
        inner.add(binding.variable);
      }
      walk(n.expression, inner);
      return;
    }
    for (const value of Object.values(n)) {
      if (Array.isArray(value)) for (const child of value) walk(child, bound);
      else if (value && typeof value === 'object') walk(value, bound);
    }
  };
  walk(root, new Set());
  return [...found];
}
