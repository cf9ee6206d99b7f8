import v8 from 'node:v8';
const t0 = Date.now();
const line = () => { const m = process.memoryUsage(); const sp = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name.replace('_space',''), +(s.space_used_size / 2**20).toFixed(0)])); process.stderr.write(`${Date.now()-t0} rss ${(m.rss/2**20).toFixed(0)} ext ${(m.external/2**20).toFixed(0)} ab ${(m.arrayBuffers/2**20).toFixed(0)} new ${sp.new} old ${sp.old} lo ${sp.large_object} nlo ${sp.new_large_object}\n`); };
setInterval(line, Number(process.env.EVERY ?? 300)).unref();
process.on('exit', line);
await import('../dist/main.js');
