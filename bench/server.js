#!/usr/bin/env node
// The fixture server in its own process for the benchmark, so its CPU is not
// counted in the benchmark's or the CLI's process. Same server as
// `node fixtures/server.js`, plus an IPC channel that reports the request log
// (the fixture CLI has no way to export it).
//
// Options come as JSON in BENCH_SERVER_OPTIONS (startFixtureServer options).
// Messages from the parent: { id, cmd: 'reset' | 'stats' }; answered with
// { id, … }. Stops when the parent disconnects.
import { performance } from 'node:perf_hooks';
import { startFixtureServer } from '../fixtures/server.js';

const options = JSON.parse(process.env.BENCH_SERVER_OPTIONS ?? '{}');
const server = await startFixtureServer(options);
let cpuAtReset = process.cpuUsage();

function stats() {
  const log = server.log;
  const statuses = {};
  const byChannel = {};
  let firstStart = Infinity;
  let lastStart = -Infinity;
  let lastEnd = -Infinity;
  let open = 0;
  for (const entry of log) {
    statuses[entry.status] = (statuses[entry.status] ?? 0) + 1;
    const key = `${entry.provider}/${entry.channel}`;
    byChannel[key] = (byChannel[key] ?? 0) + 1;
    firstStart = Math.min(firstStart, entry.start);
    lastStart = Math.max(lastStart, entry.start);
    if (entry.end === undefined) open++;
    else lastEnd = Math.max(lastEnd, entry.end);
  }
  const starts = log.map((entry) => entry.start).sort((a, b) => a - b);
  let minGapMs = Infinity;
  for (let i = 1; i < starts.length; i++) minGapMs = Math.min(minGapMs, starts[i] - starts[i - 1]);
  const cpu = process.cpuUsage(cpuAtReset);
  return {
    requests: log.length,
    statuses,
    byChannel,
    open,
    faults: log.filter((entry) => entry.fault !== undefined).length,
    firstStartToLastStartMs: log.length ? lastStart - firstStart : 0,
    firstStartToLastEndMs: log.length ? lastEnd - firstStart : 0,
    // wall-clock (epoch ms, sub-ms) so the parent can line them up with its own spawn and exit times
    firstStartEpochMs: log.length ? performance.timeOrigin + firstStart : null,
    lastEndEpochMs: log.length ? performance.timeOrigin + lastEnd : null,
    minGapMs: starts.length > 1 ? minGapMs : null,
    maxInFlight: server.maxInFlight(),
    cpuMs: (cpu.user + cpu.system) / 1000,
    now: performance.now(),
  };
}

process.on('message', (message) => {
  if (message?.cmd === 'reset') {
    server.resetLog();
    cpuAtReset = process.cpuUsage();
    process.send({ id: message.id, ok: true });
  } else if (message?.cmd === 'stats') {
    process.send({ id: message.id, ...stats() });
  }
});
process.on('disconnect', () => void server.close().then(() => process.exit(0)));
process.send({ url: server.url });
