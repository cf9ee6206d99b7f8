/**
 * JSON.stringify that also writes a value nested deeper than V8's stack
 * allows. JSON.parse reads any depth (it does not recurse), JSON.stringify
 * does: a message with a field nested ~8,000 deep parsed fine and then
 * failed every write of its `raw` with "Maximum call stack size exceeded",
 * so the channel could never be archived past it. The fast path stays
 * JSON.stringify; only that failure takes the explicit stack below, which
 * writes the same text for what JSON.parse produces (plain objects, arrays,
 * strings, numbers, booleans, null).
 */
export function stringifyJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    if (!(error instanceof RangeError) || !/call stack/i.test(error.message)) throw error;
    return stringifyDeep(value);
  }
}

type Frame =
  | { array: readonly unknown[]; next: number }
  | { object: Record<string, unknown>; keys: string[]; next: number; wrote: boolean };

/** JSON.stringify(value) without recursion (toJSON aside: nothing JSON.parse makes has one). */
export function stringifyDeep(value: unknown): string {
  const out: string[] = [];
  const stack: Frame[] = [];
  // Writes a value, or opens a frame for a container; false when the value is not written at all (undefined in an object).
  const write = (item: unknown, inArray: boolean): boolean => {
    if (item !== null && typeof item === 'object' && typeof (item as { toJSON?: unknown }).toJSON === 'function') {
      item = (item as { toJSON: () => unknown }).toJSON();
    }
    if (item === null) out.push('null');
    else if (Array.isArray(item)) {
      out.push('[');
      stack.push({ array: item, next: 0 });
    } else if (typeof item === 'object') {
      out.push('{');
      stack.push({ object: item as Record<string, unknown>, keys: Object.keys(item), next: 0, wrote: false });
    } else if (typeof item === 'undefined' || typeof item === 'function' || typeof item === 'symbol') {
      if (!inArray) return false;
      out.push('null');
    } else {
      // strings, numbers (non-finite → null), booleans, and a bigint's TypeError: as JSON.stringify
      out.push(JSON.stringify(item));
    }
    return true;
  };
  if (!write(value, false)) return undefined as unknown as string;
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    if ('array' in frame) {
      if (frame.next === frame.array.length) {
        out.push(']');
        stack.pop();
        continue;
      }
      if (frame.next > 0) out.push(',');
      write(frame.array[frame.next++], true);
      continue;
    }
    if (frame.next === frame.keys.length) {
      out.push('}');
      stack.pop();
      continue;
    }
    const key = frame.keys[frame.next++]!;
    const item = frame.object[key];
    const type = typeof item;
    if (type === 'undefined' || type === 'function' || type === 'symbol') continue;
    if (frame.wrote) out.push(',');
    frame.wrote = true;
    out.push(`${JSON.stringify(key)}:`);
    write(item, false);
  }
  return out.join('');
}
