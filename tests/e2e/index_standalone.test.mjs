// index_standalone.test.mjs -- the index API of `quiver standalone` through
// the Node SDK: every index type built by the indexnode on a flushed
// collection of 24K rows in three segments (describeIndex reaches Finished
// with indexed_rows == total rows), describe / drop flows, and every
// refusal with Milvus's codes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { startQuiver } from './lib/servers.mjs';

const DIM = 32;
const BDIM = 64;
const ROWS = 24000;
const SEGS = 3;
const COLL = 'ix_e2e';
let q;
let c;

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function rowsOf(n, start, r) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const id = start + i;
    out.push({
      id,
      vec: Array.from({ length: DIM }, () => Math.fround(r() * 2 - 1)),
      bin: Array.from({ length: BDIM / 8 }, () => Math.floor(r() * 256)),
      age: id % 97,
      name: `name-${id % 500}`,
    });
  }
  return out;
}

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

async function waitIndex(field, ms = 120000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await c.describeIndex({ collection_name: COLL, field_name: field });
    assert.equal(last.status.error_code, 'Success', last.status.reason);
    const d = last.index_descriptions[0];
    if (d.state === 'Finished' || d.state === 'Failed') return d;
    await sleep(200);
  }
  throw new Error(`index on ${field} not finished: ${JSON.stringify(last)}\n${q.output()}`);
}

before(async () => {
  q = await startQuiver();
  c = new MilvusClient({ address: q.address, timeout: 30000 });
  const r = await c.createCollection({
    collection_name: COLL,
    fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'vec', data_type: DataType.FloatVector, dim: DIM },
      { name: 'bin', data_type: DataType.BinaryVector, dim: BDIM },
      { name: 'age', data_type: DataType.Int64 },
      { name: 'name', data_type: DataType.VarChar, max_length: 32 },
    ],
  });
  assert.equal(r.error_code, 'Success', r.reason);
  const gen = rng(7);
  const per = ROWS / SEGS;
  for (let s = 0; s < SEGS; s++) {
    for (let off = 0; off < per; off += 4000) {
      const ins = await c.insert({ collection_name: COLL, data: rowsOf(4000, s * per + off, gen) });
      assert.equal(ins.status.error_code, 'Success', ins.status.reason);
    }
    await c.flushSync({ collection_names: [COLL] });
  }
});

after(async () => {
  await c?.closeConnection();
  if (q) {
    const exit = await q.stop();
    assert.equal(exit.code, 0, q.output());
  }
});

const VECTOR_CASES = [
  ['FLAT', 'vec', 'L2', {}],
  ['IVF_FLAT', 'vec', 'L2', { nlist: 64 }],
  ['IVF_SQ8', 'vec', 'IP', { nlist: 64 }],
  ['IVF_PQ', 'vec', 'L2', { nlist: 64, m: 8, nbits: 8 }],
  ['HNSW', 'vec', 'COSINE', { M: 16, efConstruction: 100 }],
  ['AUTOINDEX', 'vec', 'COSINE', {}],
  ['BIN_FLAT', 'bin', 'HAMMING', {}],
  ['BIN_IVF_FLAT', 'bin', 'JACCARD', { nlist: 32 }],
  ['STL_SORT', 'age', undefined, {}],
  ['INVERTED', 'name', undefined, {}],
  ['Trie', 'name', undefined, {}],
  ['BITMAP', 'age', undefined, {}],
];

for (const [type, field, metric, params] of VECTOR_CASES) {
  test(`${type} on ${field} builds on every segment`, async () => {
    const cr = await c.createIndex({
      collection_name: COLL, field_name: field, index_type: type,
      ...(metric ? { metric_type: metric } : {}), params,
    });
    assert.equal(cr.error_code, 'Success', cr.reason);
    const d = await waitIndex(field);
    assert.equal(d.state, 'Finished', d.index_state_fail_reason);
    assert.equal(Number(d.total_rows), ROWS);
    assert.equal(Number(d.indexed_rows), ROWS);
    assert.equal(Number(d.pending_index_rows), 0);
    assert.equal(d.field_name, field);
    const p = Object.fromEntries(d.params.map((kv) => [kv.key, kv.value]));
    assert.equal(p.index_type, type);
    if (metric) assert.equal(p.metric_type, metric);
    const st = await c.getIndexState({ collection_name: COLL, field_name: field });
    assert.equal(st.state, 'Finished');
    const pr = await c.getIndexBuildProgress({ collection_name: COLL, field_name: field });
    assert.equal(Number(pr.indexed_rows), ROWS);
    assert.equal(Number(pr.total_rows), ROWS);
    const dr = await c.dropIndex({ collection_name: COLL, field_name: field });
    assert.equal(dr.error_code, 'Success', dr.reason);
    const gone = await c.describeIndex({ collection_name: COLL, field_name: field });
    assert.equal(gone.status.error_code, 'IndexNotExist');
  });
}

test('describe, statistics and list when several indexes exist', async () => {
  let r = await c.createIndex({
    collection_name: COLL, field_name: 'vec', index_name: 'vec_idx',
    index_type: 'HNSW', metric_type: 'L2', params: { M: 8, efConstruction: 64 },
  });
  assert.equal(r.error_code, 'Success', r.reason);
  r = await c.createIndex({ collection_name: COLL, field_name: 'age', index_type: 'STL_SORT' });
  assert.equal(r.error_code, 'Success', r.reason);
  // The same request again is accepted.
  r = await c.createIndex({
    collection_name: COLL, field_name: 'vec', index_name: 'vec_idx',
    index_type: 'HNSW', metric_type: 'L2', params: { M: 8, efConstruction: 64 },
  });
  assert.equal(r.error_code, 'Success', r.reason);
  const all = await c.describeIndex({ collection_name: COLL });
  assert.equal(all.status.error_code, 'Success');
  assert.deepEqual(all.index_descriptions.map((d) => d.index_name).sort(), ['age', 'vec_idx']);
  const byName = await c.describeIndex({ collection_name: COLL, index_name: 'vec_idx' });
  assert.equal(byName.index_descriptions.length, 1);
  assert.equal(byName.index_descriptions[0].field_name, 'vec');
  const stats = await c.getIndexStatistics({ collection_name: COLL, index_name: 'vec_idx' });
  assert.equal(stats.status.error_code, 'Success', stats.status.reason);
  assert.equal(stats.index_descriptions.length, 1);
  const d = await waitIndex('vec');
  assert.equal(d.state, 'Finished', d.index_state_fail_reason);
  const list = await c.listIndexes({ collection_name: COLL });
  assert.deepEqual([...list.indexes].sort(), ['age', 'vec_idx']);
  // AlterIndex sets mmap.enabled; anything else is refused.
  r = await c.alterIndexProperties({ collection_name: COLL, index_name: 'vec_idx', params: { 'mmap.enabled': true } });
  assert.equal(r.error_code, 'Success', r.reason);
  r = await c.alterIndexProperties({ collection_name: COLL, index_name: 'vec_idx', params: { nlist: 5 } });
  assert.notEqual(r.error_code, 'Success');
  for (const field of ['vec', 'age']) {
    r = await c.dropIndex({ collection_name: COLL, field_name: field });
    assert.equal(r.error_code, 'Success', r.reason);
  }
  // Dropping what is gone is not an error (as in Milvus).
  r = await c.dropIndex({ collection_name: COLL, field_name: 'vec' });
  assert.equal(r.error_code, 'Success', r.reason);
});

test('refusals carry Milvus codes', async () => {
  const none = await c.describeIndex({ collection_name: COLL, field_name: 'vec' });
  assert.equal(none.status.error_code, 'IndexNotExist');
  assert.equal(none.status.code, 700);
  const bad = async (req, code, needle) => {
    const r = await c.createIndex({ collection_name: COLL, ...req });
    assert.notEqual(r.error_code, 'Success', JSON.stringify(req));
    if (code) assert.equal(r.error_code, code, r.reason);
    if (needle) assert.match(r.reason, needle);
  };
  await bad({ field_name: 'nope', index_type: 'HNSW', metric_type: 'L2' }, 'IllegalArgument', /non-exist field/);
  await bad({ field_name: 'age', index_type: 'HNSW', metric_type: 'L2' }, 'IllegalArgument', /vector fields/);
  await bad({ field_name: 'vec', index_type: 'HNSW', metric_type: 'HAMMING' }, 'IllegalArgument', /metric type HAMMING/);
  await bad({ field_name: 'bin', index_type: 'BIN_FLAT', metric_type: 'L2' }, 'IllegalArgument', /metric type L2/);
  await bad({ field_name: 'vec', index_type: 'HNSW', metric_type: 'L2', params: { M: 1 } }, 'IllegalArgument', /M/);
  await bad({ field_name: 'vec', index_type: 'IVF_FLAT', metric_type: 'L2', params: { nlist: 0 } }, 'IllegalArgument', /nlist/);
  await bad({ field_name: 'vec', index_type: 'IVF_PQ', metric_type: 'L2', params: { nlist: 8, m: 7 } }, 'IllegalArgument');
  await bad({ field_name: 'name', index_type: 'STL_SORT' }, 'IllegalArgument', /does not support/);
  await bad({ field_name: 'vec', index_type: 'NOT_AN_INDEX', metric_type: 'L2' }, 'UnexpectedError', /invalid index type/);
  const other = await c.createIndex({ collection_name: 'no_such_coll', field_name: 'vec', index_type: 'FLAT', metric_type: 'L2' });
  assert.equal(other.error_code, 'CollectionNotExists');
  // One index per field: a different one is refused until the first is dropped.
  let r = await c.createIndex({ collection_name: COLL, field_name: 'vec', index_type: 'FLAT', metric_type: 'L2' });
  assert.equal(r.error_code, 'Success', r.reason);
  await bad({ field_name: 'vec', index_type: 'HNSW', metric_type: 'L2' }, null, /at most one distinct index/);
  r = await c.dropIndex({ collection_name: COLL, field_name: 'vec' });
  assert.equal(r.error_code, 'Success', r.reason);
  // Legacy callers: separate key/value pairs in extra_params, no index_type (AUTOINDEX).
  r = await c.createIndex({ collection_name: COLL, field_name: 'vec', extra_params: { metric_type: 'L2' } });
  assert.equal(r.error_code, 'Success', r.reason);
  const d = await waitIndex('vec');
  assert.equal(d.state, 'Finished', d.index_state_fail_reason);
  const p = Object.fromEntries(d.params.map((kv) => [kv.key, kv.value]));
  assert.equal(p.index_type, 'AUTOINDEX');
  assert.equal(Number(d.indexed_rows), ROWS);
  r = await c.dropIndex({ collection_name: COLL, field_name: 'vec' });
  assert.equal(r.error_code, 'Success', r.reason);
});

test('an index cannot be dropped while its collection is loaded', async () => {
  let r = await c.createIndex({
    collection_name: COLL, field_name: 'vec', index_type: 'HNSW', metric_type: 'L2',
    params: { M: 16, efConstruction: 100 },
  });
  assert.equal(r.error_code, 'Success', r.reason);
  const d = await waitIndex('vec');
  assert.equal(d.state, 'Finished', d.index_state_fail_reason);
  r = await c.loadCollection({ collection_name: COLL });
  assert.equal(r.error_code, 'Success', r.reason);
  r = await c.dropIndex({ collection_name: COLL, field_name: 'vec' });
  assert.notEqual(r.error_code, 'Success');
  assert.match(r.reason, /collection is loaded/);
  // The index still answers searches.
  const s = await c.search({
    collection_name: COLL, data: [Array.from({ length: DIM }, () => 0.5)], limit: 5,
    params: { ef: 32 },
  });
  assert.equal(s.status.error_code, 'Success', s.status.reason);
  assert.equal(s.results.length, 5);
  r = await c.releaseCollection({ collection_name: COLL });
  assert.equal(r.error_code, 'Success', r.reason);
  r = await c.dropIndex({ collection_name: COLL, field_name: 'vec' });
  assert.equal(r.error_code, 'Success', r.reason);
});
