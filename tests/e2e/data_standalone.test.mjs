// data_standalone.test.mjs -- the data path of `quiver standalone` through
// the Node SDK: insert rows of every scalar and dense vector type, load,
// query them back exactly, count(*), FLAT search against a brute-force
// computation, delete and upsert visibility, auto-ID, dynamic fields,
// nullable and default values, flushSync, and bad input answered with
// clear statuses while the server keeps serving.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConsistencyLevelEnum, DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { startQuiver } from './lib/servers.mjs';

const DIM = 8;
let q;
let c;

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

const f32 = (x) => Math.fround(x);
const STRONG = ConsistencyLevelEnum.Strong;

function rowsOf(n, start, r) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const id = start + i;
    out.push({
      id,
      vec: Array.from({ length: DIM }, () => f32(r() * 2 - 1)),
      b: id % 2 === 0,
      i8: (id % 200) - 100,
      i16: id * 3 - 5000,
      i32: id * 1000,
      f: f32(id / 7),
      d: id / 3,
      s: `row-${id}`,
      j: { k: id, tag: id % 3 === 0 ? 'three' : 'other' },
      arr: [id, id + 1],
      opt: id % 4 === 0 ? null : `opt-${id}`,
    });
  }
  return out;
}

async function makeCollection(name, extra = {}) {
  const r = await c.createCollection({
    collection_name: name,
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'vec', data_type: DataType.FloatVector, dim: DIM },
      { name: 'b', data_type: DataType.Bool },
      { name: 'i8', data_type: DataType.Int8 },
      { name: 'i16', data_type: DataType.Int16 },
      { name: 'i32', data_type: DataType.Int32 },
      { name: 'f', data_type: DataType.Float },
      { name: 'd', data_type: DataType.Double },
      { name: 's', data_type: DataType.VarChar, max_length: 64 },
      { name: 'j', data_type: DataType.JSON },
      { name: 'arr', data_type: DataType.Array, element_type: DataType.Int64, max_capacity: 4 },
      { name: 'opt', data_type: DataType.VarChar, max_length: 32, nullable: true },
      { name: 'dflt', data_type: DataType.Int32, default_value: 42 },
    ],
    ...extra,
  });
  assert.equal(r.error_code, 'Success', r.reason);
}

before(async () => {
  q = await startQuiver();
  c = new MilvusClient({ address: q.address, timeout: 15000 });
});

after(async () => {
  await c?.closeConnection();
  if (q) {
    const exit = await q.stop();
    assert.equal(exit.code, 0, `quiver did not exit cleanly:\n${q.output()}`);
  }
});

test('search on a collection that is not loaded fails with code 101', async () => {
  await makeCollection('unloaded');
  const r = await c.search({ collection_name: 'unloaded', data: [Array(DIM).fill(0.1)], limit: 3 });
  assert.notEqual(r.status.error_code, 'Success');
  assert.equal(r.status.code, 101, r.status.reason);
  assert.match(r.status.reason, /not loaded/);
});

test('insert, query back exactly, count, search equals brute force', async () => {
  const name = 'every_type';
  await makeCollection(name);
  const rows = rowsOf(300, 1, rng(7));
  const ins = await c.insert({ collection_name: name, data: rows });
  assert.equal(ins.status.error_code, 'Success', ins.status.reason);
  assert.equal(Number(ins.insert_cnt), 300);
  assert.deepEqual(ins.IDs.int_id.data.map(Number), rows.map((x) => x.id));
  assert.ok(BigInt(ins.timestamp) > 0n);

  const ld = await c.loadCollectionSync({ collection_name: name });
  assert.equal(ld.error_code, 'Success', ld.reason);
  const st = await c.getLoadState({ collection_name: name });
  assert.equal(st.state, 'LoadStateLoaded');

  const cnt = await c.count({ collection_name: name, consistency_level: STRONG });
  assert.equal(Number(cnt.data), 300);
  const stats = await c.getCollectionStatistics({ collection_name: name });
  assert.equal(Number(stats.data.row_count), 300);

  const got = await c.query({
    collection_name: name, filter: 'id <= 300', output_fields: ['*'],
    consistency_level: STRONG,
  });
  assert.equal(got.status.error_code, 'Success', got.status.reason);
  assert.equal(got.data.length, 300);
  for (let i = 0; i < 300; i++) {
    const a = got.data[i];
    const e = rows[i];
    assert.equal(Number(a.id), e.id);
    assert.deepEqual(a.vec, e.vec);
    assert.equal(a.b, e.b);
    assert.equal(a.i8, e.i8);
    assert.equal(a.i16, e.i16);
    assert.equal(a.i32, e.i32);
    assert.equal(a.f, e.f);
    assert.equal(a.d, e.d);
    assert.equal(a.s, e.s);
    assert.deepEqual(a.j, e.j);
    assert.deepEqual(a.arr.map(Number), e.arr);
    assert.equal(a.opt, e.opt);
    assert.equal(a.dflt, 42);
  }

  // filter, limit/offset in PK order
  const page = await c.query({
    collection_name: name, filter: 'i32 >= 100000 and j["tag"] == "three"',
    output_fields: ['id', 's'], limit: 5, offset: 2, consistency_level: STRONG,
  });
  const want = rows.filter((x) => x.i32 >= 100000 && x.id % 3 === 0).slice(2, 7).map((x) => x.id);
  assert.deepEqual(page.data.map((x) => Number(x.id)), want);

  // FLAT search vs brute force (L2 squared, closest first)
  const query = rows[17].vec.map((x) => f32(x + 0.01));
  const res = await c.search({
    collection_name: name, data: [query], limit: 10, metric_type: 'L2',
    output_fields: ['s'], consistency_level: STRONG,
  });
  assert.equal(res.status.error_code, 'Success', res.status.reason);
  const bf = rows.map((x) => ({
    id: x.id, d: x.vec.reduce((acc, v, k) => acc + (v - query[k]) ** 2, 0),
  })).sort((a, b) => a.d - b.d).slice(0, 10);
  assert.deepEqual(res.results.map((h) => Number(h.id)), bf.map((x) => x.id));
  for (let i = 0; i < 10; i++) {
    assert.ok(Math.abs(res.results[i].score - bf[i].d) < 1e-4);
    assert.equal(res.results[i].s, `row-${bf[i].id}`);
  }

  // search by primary keys: the stored vectors are the queries
  const byId = await c.search({
    collection_name: name, ids: [rows[17].id, rows[5].id], limit: 2, metric_type: 'L2',
    consistency_level: STRONG,
  });
  assert.equal(byId.status.error_code, 'Success', byId.status.reason);
  assert.equal(Number(byId.results[0][0].id), rows[17].id);
  assert.equal(byId.results[0][0].score, 0);
  assert.equal(Number(byId.results[1][0].id), rows[5].id);
  const noId = await c.search({
    collection_name: name, ids: [99999], limit: 2, metric_type: 'L2', consistency_level: STRONG,
  });
  assert.notEqual(noId.status.error_code, 'Success');

  // filtered search and nq = 2
  const two = await c.search({
    collection_name: name, data: [query, rows[3].vec], limit: 3, metric_type: 'L2',
    filter: 'b == true', consistency_level: STRONG,
  });
  assert.equal(two.results.length, 2);
  for (const hits of two.results) for (const h of hits) assert.equal(Number(h.id) % 2, 0);
  assert.equal(Number(two.results[1][0].id), rows[3].id % 2 === 0 ? rows[3].id : Number(two.results[1][0].id));
});

test('delete and upsert are visible at once with Strong; duplicates dedupe', async () => {
  const name = 'mutations';
  await makeCollection(name);
  const rows = rowsOf(50, 1, rng(3));
  assert.equal((await c.insert({ collection_name: name, data: rows })).status.error_code, 'Success');
  await c.loadCollectionSync({ collection_name: name });

  const del = await c.delete({ collection_name: name, filter: 'id in [1, 2, 3]' });
  assert.equal(del.status.error_code, 'Success', del.status.reason);
  assert.equal(Number(del.delete_cnt), 3);
  let cnt = await c.count({ collection_name: name, consistency_level: STRONG });
  assert.equal(Number(cnt.data), 47);

  const del2 = await c.delete({ collection_name: name, filter: 'i32 >= 45000' });
  assert.equal(del2.status.error_code, 'Success', del2.status.reason);
  assert.equal(Number(del2.delete_cnt), 6);
  cnt = await c.count({ collection_name: name, consistency_level: STRONG });
  assert.equal(Number(cnt.data), 41);

  const up = rowsOf(2, 10, rng(9)).map((x) => ({ ...x, s: 'upserted' }));
  const u = await c.upsert({ collection_name: name, data: up });
  assert.equal(u.status.error_code, 'Success', u.status.reason);
  const got = await c.query({
    collection_name: name, filter: 'id in [10, 11]', output_fields: ['s'], consistency_level: STRONG,
  });
  assert.deepEqual(got.data.map((x) => x.s), ['upserted', 'upserted']);
  cnt = await c.count({ collection_name: name, consistency_level: STRONG });
  assert.equal(Number(cnt.data), 41);

  // the same key twice in one insert: the later row wins
  const twice = await c.insert({
    collection_name: name, data: [{ ...rows[30], s: 'first' }, { ...rows[30], s: 'second' }],
  });
  assert.equal(twice.status.error_code, 'Success', twice.status.reason);
  const one = await c.query({
    collection_name: name, filter: `id == ${rows[30].id}`, output_fields: ['s'], consistency_level: STRONG,
  });
  assert.deepEqual(one.data.map((x) => x.s), ['second']);

  // the same key inserted twice: one row, the newest version
  await c.insert({ collection_name: name, data: [{ ...rows[20], s: 'newer' }] });
  const dup = await c.query({
    collection_name: name, filter: `id == ${rows[20].id}`, output_fields: ['s'], consistency_level: STRONG,
  });
  assert.deepEqual(dup.data.map((x) => x.s), ['newer']);
  const sr = await c.search({
    collection_name: name, data: [rows[20].vec], limit: 5, metric_type: 'L2', consistency_level: STRONG,
  });
  const ids = sr.results.map((h) => Number(h.id));
  assert.equal(new Set(ids).size, ids.length);
});

test('auto id, dynamic fields, flushSync', async () => {
  const name = 'auto_dyn';
  const r = await c.createCollection({
    collection_name: name,
    enable_dynamic_field: true,
    fields: [
      { name: 'pk', data_type: DataType.Int64, is_primary_key: true, autoID: true },
      { name: 'v', data_type: DataType.FloatVector, dim: 4 },
    ],
  });
  assert.equal(r.error_code, 'Success', r.reason);
  const ins = await c.insert({
    collection_name: name,
    data: [{ v: [1, 0, 0, 0], color: 'red', n: 1 }, { v: [0, 1, 0, 0], color: 'blue' }],
  });
  assert.equal(ins.status.error_code, 'Success', ins.status.reason);
  const ids = ins.IDs.int_id.data.map(String);
  assert.equal(ids.length, 2);
  assert.notEqual(ids[0], ids[1]);
  const fl = await c.flushSync({ collection_names: [name] });
  assert.equal(fl.status.error_code, 'Success', fl.status.reason);
  await c.loadCollectionSync({ collection_name: name });
  const got = await c.query({
    collection_name: name, filter: 'color == "blue"', output_fields: ['pk', 'color'], consistency_level: STRONG,
  });
  assert.equal(got.data.length, 1);
  assert.equal(String(got.data[0].pk), ids[1]);
  // only the dynamic keys asked for; `*` gives all of them
  const red = await c.query({
    collection_name: name, filter: 'color == "red"', output_fields: ['color'], consistency_level: STRONG,
  });
  assert.deepEqual(red.data[0].$meta, { color: 'red' });
  const all = await c.query({
    collection_name: name, filter: 'color == "red"', output_fields: ['*'], consistency_level: STRONG,
  });
  assert.deepEqual(all.data[0].$meta, { color: 'red', n: 1 });
  const sr = await c.search({
    collection_name: name, data: [[1, 0, 0, 0]], limit: 1, metric_type: 'IP',
    output_fields: ['color'], consistency_level: STRONG,
  });
  assert.equal(String(sr.results[0].pk), ids[0]);
  assert.equal(sr.results[0].color, 'red');
});

test('bad input gets clear errors and the server keeps serving', async () => {
  const name = 'bad_input';
  await makeCollection(name);
  const good = rowsOf(1, 1, rng(1))[0];
  const bad = async (data, re) => {
    const r = await c.insert({ collection_name: name, data, skip_check_schema: true }).catch((e) => ({ thrown: e }));
    if (r.thrown) return; // the SDK refused it client-side
    assert.notEqual(r.status.error_code, 'Success', JSON.stringify(data).slice(0, 80));
    if (re) assert.match(r.status.reason, re);
  };
  await bad([{ ...good, vec: [1, 2, 3] }]);
  await bad([{ ...good, s: 'x'.repeat(100) }], /max_length|length/i);
  await bad([{ ...good, i8: 1000 }]);
  await c.loadCollectionSync({ collection_name: name });
  const s1 = await c.search({ collection_name: name, data: [[1, 2]], limit: 3, consistency_level: STRONG });
  assert.notEqual(s1.status.error_code, 'Success');
  const s2 = await c.search({ collection_name: name, data: [Array(DIM).fill(0)], limit: 20000, consistency_level: STRONG });
  assert.notEqual(s2.status.error_code, 'Success');
  const q1 = await c.query({ collection_name: name, filter: 'nope > 3', consistency_level: STRONG });
  assert.notEqual(q1.status.error_code, 'Success');
  assert.match(q1.status.reason, /nope|filter/);
  const q2 = await c.query({ collection_name: name, filter: 'id >', consistency_level: STRONG });
  assert.notEqual(q2.status.error_code, 'Success');
  const g = await c.search({
    collection_name: name, data: [Array(DIM).fill(0)], limit: 3, group_by_field: 'nope', consistency_level: STRONG,
  });
  assert.notEqual(g.status.error_code, 'Success');
  assert.match(g.status.reason, /group_by_field/);
  // still serving
  const ok = await c.insert({ collection_name: name, data: [good] });
  assert.equal(ok.status.error_code, 'Success', ok.status.reason);
  const cnt = await c.count({ collection_name: name, consistency_level: STRONG });
  assert.equal(Number(cnt.data), 1);
});

test('time travel: a read at ts1 sees the database as it was then', async () => {
  const name = 'travel';
  await makeCollection(name);
  await c.loadCollectionSync({ collection_name: name });
  const [a, b] = rowsOf(2, 1, rng(5));
  const i1 = await c.insert({ collection_name: name, data: [a] });
  const ts1 = String(i1.timestamp);
  assert.equal((await c.delete({ collection_name: name, filter: 'id == 1' })).status.error_code, 'Success');
  assert.equal((await c.insert({ collection_name: name, data: [b] })).status.error_code, 'Success');
  const then = await c.query({
    collection_name: name, filter: 'id > 0', output_fields: ['id'], consistency_level: STRONG,
    travel_timestamp: ts1,
  });
  assert.equal(then.status.error_code, 'Success', then.status.reason);
  assert.deepEqual(then.data.map((x) => Number(x.id)), [1]);
  const now = await c.query({
    collection_name: name, filter: 'id > 0', output_fields: ['id'], consistency_level: STRONG,
  });
  assert.deepEqual(now.data.map((x) => Number(x.id)), [2]);
  // outside the retention window (1 h): a clear error
  const old = (BigInt(Date.now() - 2 * 3600 * 1000) << 18n).toString();
  const bad = await c.query({
    collection_name: name, filter: 'id > 0', consistency_level: STRONG, travel_timestamp: old,
  });
  assert.notEqual(bad.status.error_code, 'Success');
  assert.match(bad.status.reason, /retention/);
});

test('VarChar keys and every other vector type round-trip and search', async () => {
  const r = await c.createCollection({
    collection_name: 'vectors',
    fields: [
      { name: 'id', data_type: DataType.VarChar, is_primary_key: true, max_length: 10 },
      { name: 'bv', data_type: DataType.BinaryVector, dim: 16 },
      { name: 'h', data_type: DataType.Float16Vector, dim: 4 },
      { name: 'bf', data_type: DataType.BFloat16Vector, dim: 4 },
      { name: 'sp', data_type: DataType.SparseFloatVector },
    ],
  });
  assert.equal(r.error_code, 'Success', r.reason);
  const data = [0, 1, 2].map((i) => ({
    id: `k${i}`, bv: [i, 255 - i], h: [i, 0.5, 1, 2], bf: [i, 0.5, 1, 2], sp: { [i]: 0.5, 10: 1.5 },
  }));
  const ins = await c.insert({ collection_name: 'vectors', data });
  assert.equal(ins.status.error_code, 'Success', ins.status.reason);
  assert.deepEqual(ins.IDs.str_id.data, ['k0', 'k1', 'k2']);
  await c.loadCollectionSync({ collection_name: 'vectors' });
  const got = await c.query({
    collection_name: 'vectors', filter: 'id != ""', output_fields: ['*'], consistency_level: STRONG,
  });
  assert.deepEqual(got.data, data);
  const cases = [['bv', [1, 254], 'HAMMING', ['k1', 'k0'], [0, 2]],
    ['h', [1, 0.5, 1, 2], 'L2', ['k1', 'k0'], [0, 1]],
    ['bf', [2, 0.5, 1, 2], 'L2', ['k2', 'k1'], [0, 1]]];
  for (const [f, v, m, ids, scores] of cases) {
    const s = await c.search({
      collection_name: 'vectors', anns_field: f, data: [v], limit: 2, metric_type: m,
      output_fields: ['id'], consistency_level: STRONG,
    });
    assert.equal(s.status.error_code, 'Success', s.status.reason);
    assert.deepEqual(s.results.map((h) => h.id), ids, f);
    assert.deepEqual(s.results.map((h) => h.score), scores, f);
  }
  // Int8 vectors (a collection of their own: at most 4 vector fields)
  assert.equal((await c.createCollection({
    collection_name: 'int8v',
    fields: [{ name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'v', data_type: DataType.Int8Vector, dim: 4 }],
  })).error_code, 'Success');
  const i8 = await c.insert({ collection_name: 'int8v', data: [{ id: 1, v: [1, -2, 3, -4] }, { id: 2, v: [9, 9, 9, 9] }] });
  assert.equal(i8.status.error_code, 'Success', i8.status.reason);
  await c.loadCollectionSync({ collection_name: 'int8v' });
  const s8 = await c.search({
    collection_name: 'int8v', data: [[1, -2, 3, -4]], limit: 1, metric_type: 'L2', consistency_level: STRONG,
  });
  assert.equal(s8.status.error_code, 'Success', s8.status.reason);
  assert.equal(Number(s8.results[0].id), 1);
});

test('partition key: rows spread over the hidden partitions, each once', async () => {
  const r = await c.createCollection({
    collection_name: 'pkey', num_partitions: 4,
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'v', data_type: DataType.FloatVector, dim: 2 },
      { name: 'cat', data_type: DataType.VarChar, max_length: 8, is_partition_key: true },
    ],
  });
  assert.equal(r.error_code, 'Success', r.reason);
  const data = Array.from({ length: 100 }, (_, i) => ({ id: i, v: [i, 1], cat: `c${i % 10}` }));
  const ins = await c.insert({ collection_name: 'pkey', data });
  assert.equal(ins.status.error_code, 'Success', ins.status.reason);
  await c.loadCollectionSync({ collection_name: 'pkey' });
  const seen = new Map();
  let nonEmpty = 0;
  for (let p = 0; p < 4; p++) {
    const q1 = await c.query({
      collection_name: 'pkey', filter: 'id >= 0', output_fields: ['cat'], limit: 1000,
      partition_names: [`_default_${p}`], consistency_level: STRONG,
    });
    assert.equal(q1.status.error_code, 'Success', q1.status.reason);
    if (q1.data.length) nonEmpty++;
    for (const row of q1.data) {
      assert.ok(!seen.has(Number(row.id)));
      seen.set(Number(row.id), p);
    }
  }
  assert.equal(seen.size, 100);
  assert.ok(nonEmpty > 1);
  // one category lives in one partition
  for (let i = 10; i < 100; i++) assert.equal(seen.get(i), seen.get(i % 10));
  const bad = await c.insert({ collection_name: 'pkey', partition_name: '_default_0', data: [data[0]] });
  assert.notEqual(bad.status.error_code, 'Success');
});
