// The per-message hot path (parsePage + normalize) of two builds of chat-export, side by side: the same
// fixture-generated answers (relation 1000 per page, discuz 100 with included users/attachments, dishawang
// 1000), interleaved runs, median of 9. Used once to compare the hand-written providers with the definition
// engine that replaced them:
//   git worktree add /tmp/before <commit> && (cd /tmp/before && npm ci && npm run build)
//   npm run build && node bench/mapping.js /tmp/before .
// Figures are in bench/README.md.
import { createHistory } from '../fixtures/history.js';
import * as fx from '../fixtures/providers/index.js';
import { resolve } from 'node:path';
const [oldRoot, newRoot] = process.argv.slice(2).map((p) => resolve(p));
const load = async (root) => ({
  relation: (await import(`${root}/dist/providers/relation.js`)).relation,
  discuz: (await import(`${root}/dist/providers/discuz.js`)).discuz,
  dishawang: (await import(`${root}/dist/providers/dishawang.js`)).dishawang,
});
const impl = { old: await load(oldRoot), new: await load(newRoot) };
const url = (p, id, page) => p === 'relation' ? new URL(`http://x/api/v1/message/list?channelUuid=${id}&maxCreateAt=${Number.MAX_SAFE_INTEGER}&limit=1000`)
  : p === 'discuz' ? new URL(`http://x/api/dialog/message?filter[dialog_id]=${id}&include=user,attachment&page[number]=${page}&page[limit]=100&sort=-createdAt`)
  : new URL(`http://x/api/v1/im/${id}/message/${page}`);
const bodies = {};
for (const p of ['relation', 'discuz', 'dishawang']) {
  const perPage = p === 'relation' ? 1000 : p === 'discuz' ? 100 : 1000;
  const h = createHistory({ provider: p, id: '77', count: 20000, perPage, pageCap: perPage });
  bodies[p] = [];
  for (let page = 1; page <= (p === 'relation' ? 1 : 20000 / perPage); page++) {
    const m = fx.PROVIDERS[p].match(url(p, '77', page));
    const out = fx.PROVIDERS[p].respond({ params: m.params, channel: h, headers: {}, auth: undefined, baseUrl: 'http://x' });
    bodies[p].push(JSON.parse(JSON.stringify(out.body)));
  }
}
const settings = { baseUrl: 'http://x', token: 't', apiKey: 'k', timezone: undefined, raw: false };
const target = { id: '77', kind: 'channel' };
function run(provider, list) {
  let n = 0, sink = 0;
  for (const body of list) {
    const page = provider.parsePage(body, target);
    for (const item of page.items) { sink += provider.normalize(item, target, settings, page).message.id.length; n++; }
  }
  return n + (sink & 0);
}
for (const p of ['relation', 'discuz', 'dishawang']) {
  const times = { old: [], new: [] };
  let count = 0;
  for (let r = 0; r < 9; r++) for (const which of r % 2 ? ['old', 'new'] : ['new', 'old']) {
    const t0 = process.hrtime.bigint();
    for (let rep = 0; rep < (p === 'relation' ? 20 : 1); rep++) count = run(impl[which][p], bodies[p]);
    times[which].push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const msgs = count * (p === 'relation' ? 20 : 1);
  const med = (a) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const o = med(times.old), nw = med(times.new);
  console.log(`${p.padEnd(10)} ${msgs} msgs: hand-written ${(msgs / o / 1000).toFixed(2)} M msg/s (${(o * 1e6 / msgs).toFixed(0)} ns/msg), definition ${(msgs / nw / 1000).toFixed(2)} M msg/s (${(nw * 1e6 / msgs).toFixed(0)} ns/msg), ratio ${(o / nw).toFixed(2)}`);
}
