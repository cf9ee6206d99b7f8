import v8 from 'node:v8';
import vm from 'node:vm';

/**
 * A long export allocates fast but keeps little: about 20 MB live, while V8
 * lets the heap grow to four or five times that before it collects. A full
 * collection of so small a heap costs a few milliseconds, so the walk asks
 * for one whenever the heap has grown `headroomBytes` past what the last one
 * kept: peak memory then stays flat and low however long the history is.
 */
export function createHeapGuard(headroomBytes = 40 * 1024 * 1024): () => void {
  const gc = exposeGc();
  if (!gc) return () => {};
  let floor = v8.getHeapStatistics().used_heap_size;
  return () => {
    if (v8.getHeapStatistics().used_heap_size > floor + headroomBytes) {
      gc();
      floor = v8.getHeapStatistics().used_heap_size;
    }
  };
}

let cached: (() => void) | null | undefined;

function exposeGc(): (() => void) | undefined {
  if (cached !== undefined) return cached ?? undefined;
  try {
    // --expose-gc set at run time only affects contexts created afterwards: a fresh one hands us gc().
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as unknown;
    cached = typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    cached = null;
  }
  return cached ?? undefined;
}
