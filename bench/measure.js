#!/usr/bin/env node
// Runs the real CLI (dist/main.js) in this process and, when the process
// exits, writes its peak RSS and CPU time to the file named by
// BENCH_MEASURE_OUT. Portable replacement for `/usr/bin/time -f %M`:
// process.resourceUsage().maxRSS is getrusage(2)'s ru_maxrss (KiB), the same
// number GNU time prints. The CLI's main() only sets process.exitCode and
// returns (or calls process.exit), so an 'exit' hook always runs.
//
//   BENCH_MEASURE_OUT=/tmp/m.json node bench/measure.js dump --provider … 
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const out = process.env.BENCH_MEASURE_OUT;
delete process.env.BENCH_MEASURE_OUT;

// Where the memory goes: peaks of the V8 heap and of off-heap buffers,
// sampled every 500 ms (unref'd: it never keeps the CLI alive; a sample costs
// about 2 ms on a large heap, so more often would show in the CPU figures).
const peak = { heapUsed: 0, heapTotal: 0, external: 0, arrayBuffers: 0 };
const sample = () => {
  const usage = process.memoryUsage();
  for (const key of Object.keys(peak)) peak[key] = Math.max(peak[key], usage[key]);
};
setInterval(sample, 500).unref();

process.on('exit', (code) => {
  if (!out) return;
  sample();
  const usage = process.resourceUsage();
  writeFileSync(
    out,
    JSON.stringify({
      maxRssKiB: usage.maxRSS,
      sampledPeakMiB: Object.fromEntries(Object.entries(peak).map(([key, bytes]) => [key, Math.round(bytes / 2 ** 20)])),
      userCpuMs: usage.userCPUTime / 1000,
      systemCpuMs: usage.systemCPUTime / 1000,
      uptimeMs: performance.now(),
      exitCode: code,
    }),
  );
});

// argv stays [node, this file, ...CLI args]: commander reads from argv[2] on.
await import('../dist/main.js');
