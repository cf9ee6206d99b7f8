// Summarizes a V8 .cpuprofile (node --cpu-prof): self time per function,
// mapped back from dist/*.js to src/*.ts through the compiler's source maps.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

/** Decodes a source map's mappings into per-generated-line [genCol, srcIndex, srcLine, srcCol] lists. */
function decodeMappings(mappings) {
  const lines = [];
  let srcIndex = 0;
  let srcLine = 0;
  let srcCol = 0;
  for (const lineText of mappings.split(';')) {
    const segments = [];
    let genCol = 0;
    for (const segment of lineText.split(',')) {
      if (segment === '') continue;
      const values = [];
      let value = 0;
      let shift = 0;
      for (const c of segment) {
        const digit = B64_INDEX.get(c);
        value += (digit & 31) << shift;
        if (digit & 32) {
          shift += 5;
        } else {
          values.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      genCol += values[0];
      if (values.length >= 4) {
        srcIndex += values[1];
        srcLine += values[2];
        srcCol += values[3];
        segments.push([genCol, srcIndex, srcLine, srcCol]);
      }
    }
    lines.push(segments);
  }
  return lines;
}

const maps = new Map();
function sourceMapFor(file) {
  if (maps.has(file)) return maps.get(file);
  let map;
  const mapFile = `${file}.map`;
  if (existsSync(mapFile)) {
    const raw = JSON.parse(readFileSync(mapFile, 'utf8'));
    map = { sources: raw.sources.map((s) => resolve(dirname(mapFile), raw.sourceRoot ?? '', s)), lines: decodeMappings(raw.mappings) };
  }
  maps.set(file, map);
  return map;
}

/** file:line (1-based) of a call frame, in src/ when the source map knows it. */
export function locate(callFrame) {
  const { url, lineNumber, columnNumber } = callFrame;
  if (!url) return '';
  let file = url.startsWith('file://') ? fileURLToPath(url) : url;
  if (!file.startsWith('/')) return `${file}:${lineNumber + 1}`;
  const map = file.startsWith(join(ROOT, 'dist')) ? sourceMapFor(file) : undefined;
  if (map) {
    const segments = map.lines[lineNumber] ?? [];
    let best;
    if (callFrame.firstSegment) best = segments[0];
    else for (const segment of segments) if (segment[0] <= columnNumber) best = segment;
    best ??= segments[0];
    if (best) return `${relative(ROOT, map.sources[best[1]])}:${best[2] + 1}`;
  }
  const shown = relative(ROOT, file);
  return `${shown.replace(/^node_modules\//, '')}:${lineNumber + 1}`;
}

/** src/ file:line of a generated line (1-based, as in positionTicks) of the frame's script. */
function locateLine(callFrame, line) {
  return locate({ ...callFrame, lineNumber: line - 1, columnNumber: Number.MAX_SAFE_INTEGER, firstSegment: true });
}

/** Where a frame belongs: a src/ file, an npm package, node internals or V8. */
function areaOf(where, functionName) {
  if (where.startsWith('src/')) return where.replace(/:\d+$/, '');
  if (where.startsWith('node:')) return 'node internals';
  if (where === '') return functionName.startsWith('(') ? functionName : '(native / V8 builtins)';
  const match = /^((?:@[^/]+\/)?[^/]+)\//.exec(where);
  return match && !where.startsWith('bench/') && !where.startsWith('fixtures/') ? `npm ${match[1]}` : where.replace(/:\d+$/, '');
}

/**
 * @returns {{ totalMs: number, top: Array<{ name, where, selfMs, share }>, areas: Array<{ area, selfMs, share }> }}
 */
export function summarizeProfile(file, limit = 15) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const byFunction = new Map();
  const byArea = new Map();
  /** function key → (src line → ticks): where inside a function the samples fell */
  const lines = new Map();
  let total = 0;
  for (const [id, us] of self) {
    const node = nodes.get(id);
    const frame = node.callFrame;
    const where = locate(frame);
    const name = frame.functionName || '(anonymous)';
    const key = `${name}\u0000${where}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    if (node.positionTicks && frame.url) {
      const perLine = lines.get(key) ?? new Map();
      lines.set(key, perLine);
      for (const { line, ticks } of node.positionTicks) {
        const at = locateLine(frame, line);
        perLine.set(at, (perLine.get(at) ?? 0) + ticks);
      }
    }
    const area = areaOf(where, name);
    byArea.set(area, (byArea.get(area) ?? 0) + us);
    total += us;
  }
  const share = (us) => us / total;
  const top = [...byFunction]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([key, us]) => {
      const [name, where] = key.split('\u0000');
      const perLine = [...(lines.get(key) ?? new Map())].sort((a, b) => b[1] - a[1]);
      const ticks = perLine.reduce((sum, [, t]) => sum + t, 0);
      const hotLines = perLine.slice(0, 3).map(([at, t]) => ({ at, share: t / ticks }));
      return { name, where, selfMs: us / 1000, share: share(us), hotLines };
    });
  const areas = [...byArea]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([area, us]) => ({ area, selfMs: us / 1000, share: share(us) }));
  return { totalMs: total / 1000, top, areas };
}
