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
  (args) => lookup(args[0], args[1]) as never,
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
  const run = build(node);
  return (value, scope) => run(value, value, scope ?? EMPTY_SCOPE);
}

/** The library's own evaluation of one node, with the root and variables of this call. */
export function interpret(text: string): Expr {
  const node = compile(text);
  return (value, scope) => {
    interpreter._rootValue = value;
    interpreter._scope = scope ?? EMPTY_SCOPE;
    return interpreter.visit(node, value);
  };
}

type Run = (value: unknown, root: unknown, scope: ScopeChain) => unknown;

/**
 * The hot path: the library parses, and the node kinds field expressions are
 * made of (paths, `||`, `&&`, `!`, comparisons, `?:`, indexes, variables,
 * `lookup` / `not_null`, projections, filters, flattening, multi-selects,
 * pipes, `to_array`, `map(&…)`) become closures with JMESPath's semantics —
 * per message that is several times faster than walking the tree. Every other
 * node (slices, `let`, arithmetic, the other functions) is handed to
 * the library's interpreter, with the same current value, root and scope.
 * test/unit/definition.test.ts checks both give the same results.
 */
function build(node: Node): Run {
  return buildPath(node) ?? buildLogic(node) ?? buildProjection(node) ?? (node.type === 'Function' ? buildFunction(node) : delegate(node));
}

/** Paths, indexes, literals and variables. undefined: not one of these node kinds. */
function buildPath(node: Node): Run | undefined {
  switch (node.type) {
    case 'Field': {
      const name = node.name;
      return (value) => field(value, name);
    }
    case 'Subexpression': {
      const left = build(node.left);
      const right = build(node.right);
      return (value, root, scope) => {
        const result = left(value, root, scope);
        return result !== null && result !== undefined ? (right(result, root, scope) ?? null) : null;
      };
    }
    case 'IndexExpression': {
      const left = build(node.left);
      const right = build(node.right);
      return (value, root, scope) => right(left(value, root, scope), root, scope);
    }
    case 'Index': {
      const at = node.value;
      return (value) => {
        if (!Array.isArray(value)) return null;
        return value[at < 0 ? value.length + at : at] ?? null;
      };
    }
    case 'Literal': {
      const constant = node.value;
      return () => constant;
    }
    case 'Current':
    case 'Identity':
      return (value) => value;
    case 'Root':
      return (_value, root) => root;
    case 'Variable': {
      const name = node.name;
      return (_value, _root, scope) => {
        const found = scope.getValue(name);
        if (!found && !Object.hasOwn(scope.currentScopeData, name)) throw new Error(`Error referencing undefined variable ${name}`);
        return found;
      };
    }
    default:
      return undefined;
  }
}

/** `||`, `&&`, `!`, `?:`, comparisons and pipes. undefined: not one of these node kinds. */
function buildLogic(node: Node): Run | undefined {
  switch (node.type) {
    case 'OrExpression': {
      const left = build(node.left);
      const right = build(node.right);
      return (value, root, scope) => {
        const result = left(value, root, scope);
        return isFalse(result) ? right(value, root, scope) : result;
      };
    }
    case 'AndExpression': {
      const left = build(node.left);
      const right = build(node.right);
      return (value, root, scope) => {
        const result = left(value, root, scope);
        return isFalse(result) ? result : right(value, root, scope);
      };
    }
    case 'NotExpression': {
      const child = build(node.child);
      return (value, root, scope) => isFalse(child(value, root, scope));
    }
    case 'Ternary': {
      const condition = build(node.condition);
      const yes = build(node.trueExpr);
      const no = build(node.falseExpr);
      return (value, root, scope) => (isFalse(condition(value, root, scope)) ? no(value, root, scope) : yes(value, root, scope));
    }
    case 'Comparator': {
      const left = build(node.left);
      const right = build(node.right);
      const op = node.name;
      return (value, root, scope) => {
        const a = left(value, root, scope);
        const b = right(value, root, scope);
        if (op === 'EQ') return deepEqual(a, b);
        if (op === 'NE') return !deepEqual(a, b);
        if (typeof a !== 'number' || typeof b !== 'number') return null;
        return op === 'GT' ? a > b : op === 'GTE' ? a >= b : op === 'LT' ? a < b : a <= b;
      };
    }
    case 'Pipe': {
      const left = build(node.left);
      const right = build(node.right);
      return (value, root, scope) => right(left(value, root, scope), root, scope);
    }
    default:
      return undefined;
  }
}

/** Projections, filters, flattening and multi-selects. undefined: not one of these node kinds. */
function buildProjection(node: Node): Run | undefined {
  switch (node.type) {
    case 'Flatten': {
      const child = build(node.child);
      return (value, root, scope) => {
        const original = child(value, root, scope);
        if (!Array.isArray(original)) return null;
        // Array#flat() is generic and several times slower on these small lists.
        const flat: unknown[] = [];
        for (const element of original) {
          if (Array.isArray(element)) for (const inner of element) flat.push(inner);
          else flat.push(element);
        }
        return flat;
      };
    }
    case 'Projection': {
      // A slice projects over a string too: left to the library.
      if (node.left.type === 'IndexExpression' && node.left.right.type === 'Slice') return delegate(node);
      const left = build(node.left);
      const right = build(node.right);
      return (value, root, scope) => {
        const base = left(value, root, scope);
        if (!Array.isArray(base)) return null;
        const collected: unknown[] = [];
        for (const element of base) {
          const current = right(element, root, scope);
          if (current !== null) collected.push(current);
        }
        return collected;
      };
    }
    case 'FilterProjection': {
      const left = build(node.left);
      const right = build(node.right);
      const condition = build(node.condition);
      return (value, root, scope) => {
        const base = left(value, root, scope);
        if (!Array.isArray(base)) return null;
        const collected: unknown[] = [];
        for (const element of base) {
          if (isFalse(condition(element, root, scope))) continue;
          const current = right(element, root, scope);
          if (current !== null) collected.push(current);
        }
        return collected;
      };
    }
    case 'MultiSelectList': {
      const children = node.children.map(build);
      return (value, root, scope) => children.map((child) => child(value, root, scope));
    }
    case 'MultiSelectHash': {
      const pairs = node.children.map((pair) => [pair.name, build(pair.value)] as const);
      return (value, root, scope) => {
        const collected: Record<string, unknown> = {};
        for (const [name, child] of pairs) collected[name] = child(value, root, scope);
        return collected;
      };
    }
    default:
      return undefined;
  }
}

/** `to_array`, `map(&…)`, `lookup` and `not_null` as closures; other functions go to the library. */
function buildFunction(node: Extract<Node, { type: 'Function' }>): Run {
  const argsAreValues = node.children.every((child) => child.type !== 'ExpressionReference');
  if (node.name === 'to_array' && node.children.length === 1 && argsAreValues) {
    const arg = build(node.children[0]!);
    return (value, root, scope) => {
      const result = arg(value, root, scope);
      return Array.isArray(result) ? result : [result];
    };
  }
  if (node.name === 'map' && node.children.length === 2 && node.children[0]!.type === 'ExpressionReference' && node.children[1]!.type !== 'ExpressionReference') {
    const each = build((node.children[0] as { child: Node }).child);
    const list = build(node.children[1]!);
    const slow = delegate(node);
    return (value, root, scope) => {
      const elements = list(value, root, scope);
      // Anything but a list is the library's to refuse, with its own message.
      if (!Array.isArray(elements)) return slow(value, root, scope);
      return elements.map((element) => each(element, root, scope));
    };
  }
  if (node.name === 'lookup' && node.children.length === 2) {
    const [map, key] = node.children.map(build) as [Run, Run];
    return (value, root, scope) => lookup(map(value, root, scope), key(value, root, scope));
  }
  if (node.name === 'not_null' && node.children.length > 0) {
    const args = node.children.map(build);
    return (value, root, scope) => {
      for (const arg of args) {
        const result = arg(value, root, scope);
        if (result !== null && result !== undefined) return result;
      }
      return null;
    };
  }
  return delegate(node);
}

function delegate(node: Node): Run {
  return (value, root, scope) => {
    interpreter._rootValue = root;
    interpreter._scope = scope;
    return interpreter.visit(node, value);
  };
}

function field(value: unknown, name: string): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  return (value as Record<string, unknown>)[name] ?? null;
}

function lookup(map: unknown, key: unknown): unknown {
  if (map === null || typeof map !== 'object' || Array.isArray(map) || key === null || key === undefined || typeof key === 'object') return null;
  const text = String(key);
  return Object.hasOwn(map, text) ? ((map as Record<string, unknown>)[text] ?? null) : null;
}

/** JMESPath's notion of false: null, false, "", [], {}. */
function isFalse(value: unknown): boolean {
  if (value === null || value === undefined || value === false) return true;
  if (typeof value === 'string') return value === '';
  if (typeof value === 'object') return Array.isArray(value) ? value.length === 0 : Object.keys(value).length === 0;
  return false;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((item, index) => deepEqual(item, other[index]));
  }
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  return keysA.length === keysB.length && keysA.every((key) => Object.hasOwn(b, key) && deepEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
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
