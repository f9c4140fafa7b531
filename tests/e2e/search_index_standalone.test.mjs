// search_index_standalone.test.mjs -- search through the indexes of sealed
// segments on `quiver standalone` with the Node SDK: per index type, a
// collection of 12K rows in two flushed segments (plus growing rows and
// deletes) is indexed, loaded (progress 100 = every index attached) and
// searched with the index's search params; recall@10 against the exact
// answer computed here, every hit passes the filter, deleted rows never come
// back; range search (radius / range_filter) on FLAT equals the exact
// answer; the index's metric is used when the request names none.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { startQuiver } from './lib/servers.mjs';

const DIM = 32;
const BDIM = 64;
const PER_SEG = 6000;
const GROWING = 500;
const NQ = 20;
let q;
let c;

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

// Clustered rows: 30 centres plus noise, so IVF lists mean something.
function makeRows(n, seed) {
  const r = rng(seed);
  const centres = Array.from({ length: 30 }, () => Array.from({ length: DIM }, () => r() * 10));
  const bcentres = Array.from({ length: 30 }, () => Array.from({ length: BDIM / 8 }, () => Math.floor(r() * 256)));
  const rows = [];
  for (let id = 1; id <= n; id++) {
    const k = Math.floor(r() * 30);
    rows.push({
      id,
      vec: centres[k].map((x) => Math.fround(x + (r() - 0.5) * 6)),
      bin: bcentres[k].map((b) => b ^ (Math.floor(r() * 256) & Math.floor(r() * 256) & 0x55)),
      tag: id % 10,
    });
  }
  return rows;
}

const ROWS = makeRows(2 * PER_SEG + GROWING, 11);
const QUERIES = makeRows(NQ, 99);
const deleted = (id) => id % 13 === 0;

function dist(metric, a, b) {
  if (metric === 'L2') return a.reduce((s, x, i) => s + (x - b[i]) ** 2, 0);
  if (metric === 'IP') return a.reduce((s, x, i) => s + x * b[i], 0);
  if (metric === 'COSINE') {
    const n = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    return dist('IP', a, b) / (n(a) * n(b));
  }
  let h = 0; // HAMMING
  for (let i = 0; i < a.length; i++) {
    let x = a[i] ^ b[i];
    while (x) { h += x & 1; x >>= 1; }
  }
  return h;
}
const larger = (m) => m === 'IP' || m === 'COSINE';

// The exact answer: ids and distances of the k closest live rows passing pred.
function exact(metric, field, qv, k, pred) {
  const all = ROWS.filter((r) => !deleted(r.id) && pred(r))
    .map((r) => ({ id: r.id, d: dist(metric, qv, r[field]) }));
  all.sort((x, y) => (larger(metric) ? y.d - x.d : x.d - y.d));
  return all.slice(0, k);
}

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

async function setup(name, field, type, metric, params) {
  let r = await c.createCollection({
    collection_name: name,
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'vec', data_type: DataType.FloatVector, dim: DIM },
      { name: 'bin', data_type: DataType.BinaryVector, dim: BDIM },
      { name: 'tag', data_type: DataType.Int64 },
    ],
  });
  assert.equal(r.error_code, 'Success', r.reason);
  for (let s = 0; s < 2; s++) {
    for (let off = 0; off < PER_SEG; off += 3000) {
      const data = ROWS.slice(s * PER_SEG + off, s * PER_SEG + off + 3000);
      const ins = await c.insert({ collection_name: name, data });
      assert.equal(ins.status.error_code, 'Success', ins.status.reason);
    }
    await c.flushSync({ collection_names: [name] });
  }
  r = await c.createIndex({ collection_name: name, field_name: field, index_type: type, metric_type: metric, params });
  assert.equal(r.error_code, 'Success', r.reason);
  const end = Date.now() + 180000;
  for (;;) {
    const d = (await c.describeIndex({ collection_name: name, field_name: field })).index_descriptions[0];
    if (d.state === 'Finished') break;
    assert.notEqual(d.state, 'Failed', d.index_state_fail_reason);
    assert.ok(Date.now() < end, `index not built: ${JSON.stringify(d)}\n${q.output()}`);
    await sleep(200);
  }
  r = await c.loadCollection({ collection_name: name });
  assert.equal(r.error_code, 'Success', r.reason);
  for (;;) {
    const p = await c.getLoadingProgress({ collection_name: name });
    if (Number(p.progress) >= 100) break;
    assert.ok(Date.now() < end, `not loaded: ${JSON.stringify(p)}\n${q.output()}`);
    await sleep(200);
  }
  // growing rows, then deletes of every 13th key (sealed and growing)
  const ins = await c.insert({ collection_name: name, data: ROWS.slice(2 * PER_SEG) });
  assert.equal(ins.status.error_code, 'Success', ins.status.reason);
  const del = await c.delete({ collection_name: name, filter: 'id % 13 == 0' });
  assert.equal(del.status.error_code, 'Success', del.status.reason);
}

async function recallOf(name, field, metric, params, filter, pred) {
  let good = 0;
  for (const qr of QUERIES) {
    const qv = qr[field];
    const res = await c.search({
      collection_name: name, anns_field: field, data: [qv], limit: 10, metric_type: metric,
      params, filter, consistency_level: 0 /* Strong */, output_fields: ['tag'],
    });
    assert.equal(res.status.error_code, 'Success', res.status.reason);
    const want = exact(metric, field, qv, 10, pred);
    const kth = want[want.length - 1].d;
    assert.equal(res.results.length, 10);
    for (const h of res.results) {
      const id = Number(h.id);
      assert.ok(!deleted(id), `deleted id ${id} returned`);
      const row = ROWS[id - 1];
      assert.ok(pred(row), `id ${id} fails the filter`);
      assert.equal(Number(h.tag), row.tag);
      const d = dist(metric, qv, row[field]);
      if (larger(metric) ? d >= kth - 1e-4 : d <= kth * 1.0001 + 1e-6) good++;
    }
  }
  return good / (QUERIES.length * 10);
}

before(async () => {
  q = await startQuiver();
  c = new MilvusClient({ address: q.address, timeout: 60000 });
});

after(async () => {
  await c?.closeConnection();
  if (q) {
    const exit = await q.stop();
    assert.equal(exit.code, 0, q.output());
  }
});

const CASES = [
  ['IVF_FLAT', 'vec', 'L2', { nlist: 64 }, { nprobe: 16 }, 0.9],
  ['IVF_SQ8', 'vec', 'L2', { nlist: 64 }, { nprobe: 16 }, 0.85],
  ['IVF_PQ', 'vec', 'L2', { nlist: 64, m: 8, nbits: 8 }, { nprobe: 16 }, 0.4],
  ['HNSW', 'vec', 'L2', { M: 16, efConstruction: 100 }, { ef: 64 }, 0.9],
  ['BIN_IVF_FLAT', 'bin', 'HAMMING', { nlist: 32 }, { nprobe: 8 }, 0.8],
];

for (const [type, field, metric, build, sparams, floor] of CASES) {
  test(`${type}: recall@10, filters and deletes`, async (t) => {
    const name = `si_${type.toLowerCase()}`;
    await setup(name, field, type, metric, build);
    const all = () => true;
    const r1 = await recallOf(name, field, metric, sparams, '', all);
    assert.ok(r1 >= floor, `${type} recall ${r1} < ${floor}`);
    const r2 = await recallOf(name, field, metric, sparams, 'tag < 3', (r) => r.tag < 3);
    assert.ok(r2 >= floor, `${type} filtered recall ${r2} < ${floor}`);
    t.diagnostic(`${type} ${JSON.stringify(sparams)}: recall@10 ${r1.toFixed(3)}, with tag < 3 ${r2.toFixed(3)}`);
    // the index's metric when none is named
    const res = await c.search({ collection_name: name, anns_field: field, data: [QUERIES[0][field]], limit: 5, params: sparams });
    assert.equal(res.status.error_code, 'Success', res.status.reason);
    const d0 = dist(metric, QUERIES[0][field], ROWS[Number(res.results[0].id) - 1][field]);
    // PQ codes give approximate distances: it is searched through the index
    const tol = type === 'IVF_PQ' ? 0.25 : 1e-3;
    assert.ok(Math.abs(res.results[0].score - d0) <= tol * (1 + Math.abs(d0)), `score ${res.results[0].score} vs ${metric} ${d0}`);
    // a bad search param is refused with the index's message
    if (type === 'HNSW') {
      const bad = await c.search({ collection_name: name, data: [QUERIES[0][field]], limit: 10, metric_type: metric, params: { ef: 5 } });
      assert.notEqual(bad.status.error_code, 'Success');
      assert.match(bad.status.reason, /ef/);
    }
    assert.equal((await c.dropCollection({ collection_name: name })).error_code, 'Success');
  });
}

test('FLAT: range search equals the exact answer', async () => {
  const name = 'si_flat_range';
  await setup(name, 'vec', 'FLAT', 'L2', {});
  for (const qr of QUERIES.slice(0, 5)) {
    const ex = exact('L2', 'vec', qr.vec, 1e9, () => true);
    const radius = (ex[39].d + ex[40].d) / 2;
    const rf = (ex[9].d + ex[10].d) / 2;
    for (const [params, lo, limit] of [[{ radius }, 0, 100], [{ radius, range_filter: rf }, 10, 100], [{ radius, range_filter: rf }, 10, 7]]) {
      const res = await c.search({ collection_name: name, data: [qr.vec], limit, metric_type: 'L2', params, consistency_level: 0 });
      assert.equal(res.status.error_code, 'Success', res.status.reason);
      const want = ex.slice(lo, 40).slice(0, limit);
      assert.deepEqual(res.results.map((h) => Number(h.id)), want.map((w) => w.id), JSON.stringify(params));
      res.results.forEach((h, i) => assert.ok(Math.abs(h.score - want[i].d) <= 1e-3 * (1 + want[i].d)));
    }
  }
});

test('group_by_field: the closest groups, group_size hits each', async () => {
  const name = 'si_group';
  await setup(name, 'vec', 'HNSW', 'L2', { M: 16, efConstruction: 100 });
  for (const qr of QUERIES.slice(0, 5)) {
    const res = await c.search({
      collection_name: name, data: [qr.vec], limit: 3, metric_type: 'L2', params: { ef: 400 },
      group_by_field: 'tag', group_size: 2, strict_group_size: true,
      output_fields: ['tag'], consistency_level: 0,
    });
    assert.equal(res.status.error_code, 'Success', res.status.reason);
    // exact: per tag its 2 closest live rows; tags by their closest row
    const ex = exact('L2', 'vec', qr.vec, 1e9, () => true);
    const per = new Map();
    for (const w of ex) {
      const t = ROWS[w.id - 1].tag;
      if (!per.has(t)) per.set(t, []);
      if (per.get(t).length < 2) per.get(t).push(w);
    }
    const want = [...per.values()].slice(0, 3).flat();
    assert.equal(res.results.length, 6, JSON.stringify(res.results));
    const got = res.results.map((h) => [Number(h.tag), Number(h.id)]);
    const good = want.filter((w) => got.some(([, id]) => id === w.id)).length;
    assert.ok(good >= 5, `${good}/6 of the exact grouped answer: ${JSON.stringify(got)} want ${JSON.stringify(want.map((w) => w.id))}`);
    for (let g = 0; g < 3; g++) {
      assert.equal(got[2 * g][0], got[2 * g + 1][0], 'a group is two hits of one tag');
      assert.equal(Number(ROWS[got[2 * g][1] - 1].tag), got[2 * g][0]);
    }
    assert.equal(new Set(got.map(([t]) => t)).size, 3);
  }
  const bad = await c.search({ collection_name: name, data: [QUERIES[0].vec], limit: 3, metric_type: 'L2', group_by_field: 'vec' });
  assert.notEqual(bad.status.error_code, 'Success');
});
