// sealed_standalone.test.mjs -- sealed segments in `quiver standalone`:
// while rows are inserted and flushed, Strong count(*) and a fixed search
// stay exact (the growing copy is released only once the sealed copy
// serves); after a restart (SIGTERM and SIGKILL) the query node starts at
// the channel checkpoint with the flushed segments loaded (it replays fewer
// rows than the collection holds) and answers byte-exact; Load / Release /
// partitions / replicas / progress behave as Milvus.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConsistencyLevelEnum, DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { startQuiver } from './lib/servers.mjs';

const STRONG = ConsistencyLevelEnum.Strong;
const DIM = 8;
const fields = [
  { name: 'id', data_type: DataType.Int64, is_primary_key: true },
  { name: 'v', data_type: DataType.FloatVector, dim: DIM },
  { name: 'tag', data_type: DataType.VarChar, max_length: 32 },
];
// Deterministic vectors: float32-exact values.
const vec = (id) => Array.from({ length: DIM }, (_, d) => ((id * 37 + d * 11) % 97) / 8);
const rows = (from, n) => Array.from({ length: n }, (_, i) => ({
  id: from + i, v: vec(from + i), tag: `t${(from + i) % 7}`,
}));
const QUERY = Array.from({ length: DIM }, (_, d) => (d * 13 % 29) / 4);

function l2(a, b) {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.fround(a[i]) - Math.fround(b[i]);
    s += d * d;
  }
  return s;
}

/** Brute-force top-k ids (ties by id) over the live ids. */
function bruteForce(ids, k) {
  return ids.map((id) => [l2(vec(id), QUERY), id])
    .sort((x, y) => x[0] - y[0] || x[1] - y[1]).slice(0, k);
}

async function searchIds(c, name, k) {
  const r = await c.search({
    collection_name: name, data: [QUERY], limit: k, output_fields: ['id'], metric_type: 'L2',
    consistency_level: STRONG,
  });
  assert.equal(r.status.error_code, 'Success', r.status.reason);
  return r.results.map((x) => [x.score, Number(x.id)]);
}

/** Search results equal the brute force (distances within float error;
 * equal-distance ties may come in either order). */
function assertSearch(got, want) {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++)
    assert.ok(Math.abs(got[i][0] - want[i][0]) <= 1e-3 * Math.max(1, want[i][0]),
      `rank ${i}: ${got[i]} vs ${want[i]}`);
  const cut = want[want.length - 1][0];
  const strict = (l) => l.filter(([d]) => d < cut - 1e-3).map(([, id]) => id).sort((a, b) => a - b);
  assert.deepEqual(strict(got), strict(want));
}

async function count(c, name) {
  const r = await c.count({ collection_name: name, consistency_level: STRONG });
  assert.equal(r.status.error_code, 'Success', r.status.reason);
  return Number(r.data);
}

async function flushSync(c, name) {
  const f = await c.flushSync({ collection_names: [name] });
  assert.equal(f.status?.error_code ?? 'Success', 'Success');
}

async function metric(q, name) {
  const txt = await (await fetch(`http://127.0.0.1:${q.httpPort}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(txt);
  return m ? Number(m[1]) : NaN;
}

/** Waits until the query node serves `rows` sealed rows. */
async function waitSealed(q, rowsWanted, ms = 30000) {
  const end = Date.now() + ms;
  let v = 0;
  while (Date.now() < end) {
    v = await metric(q, 'quiver_querynode_sealed_rows');
    if (v === rowsWanted) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`sealed rows ${v}, want ${rowsWanted}`);
}

test('sealed: Strong count and search stay exact while inserting and flushing', async () => {
  const q = await startQuiver();
  const c = new MilvusClient({ address: q.address, timeout: 30000 });
  try {
    const name = 'flowing';
    assert.equal((await c.createCollection({ collection_name: name, fields, shards_num: 2 })).error_code, 'Success');
    assert.equal((await c.loadCollectionSync({ collection_name: name })).error_code, 'Success');
    const ids = [];
    let checks = 0;
    let midway = 0;
    for (let b = 0; b < 12; b++) {
      const r = await c.insert({ collection_name: name, data: rows(b * 100, 100) });
      assert.equal(r.status.error_code, 'Success', r.status.reason);
      for (let i = 0; i < 100; i++) ids.push(b * 100 + i);
      // every other batch: a flush in flight while we read
      const fl = b % 2 === 1 ? c.flush({ collection_names: [name] }) : null;
      // read for 400 ms: hand-offs of earlier flushes happen meanwhile
      const until = Date.now() + 400;
      for (let k = 0; k < 3 || Date.now() < until; k++) {
        assert.equal(await count(c, name), ids.length, `batch ${b} read ${k}`);
        assertSearch(await searchIds(c, name, 10), bruteForce(ids, 10));
        checks++;
      }
      if (fl) assert.equal((await fl).status.error_code, 'Success');
      midway = Math.max(midway, await metric(q, 'quiver_querynode_sealed_rows'));
    }
    assert.ok(midway > 0, 'hand-offs happened while reading');
    await flushSync(c, name);
    const p = await c.getLoadingProgress({ collection_name: name });
    assert.equal(p.status.error_code, 'Success', p.status.reason);
    // flushed segments become sealed copies; reads stay exact meanwhile
    const end = Date.now() + 30000;
    let sealed = 0;
    while (Date.now() < end && (sealed = await metric(q, 'quiver_querynode_sealed_rows')) < ids.length) {
      assert.equal(await count(c, name), ids.length);
      assertSearch(await searchIds(c, name, 10), bruteForce(ids, 10));
      checks++;
    }
    assert.equal(sealed, ids.length, 'every flushed row is served sealed');
    assert.equal(await count(c, name), ids.length);
    assertSearch(await searchIds(c, name, 10), bruteForce(ids, 10));
    // deletes reach sealed copies
    const del = await c.delete({ collection_name: name, filter: 'id in [0, 150, 1199]' });
    assert.equal(del.status.error_code, 'Success');
    const live = ids.filter((i) => ![0, 150, 1199].includes(i));
    assert.equal(await count(c, name), live.length);
    assertSearch(await searchIds(c, name, 10), bruteForce(live, 10));
    assert.ok(checks >= 36);
    const lp = await c.getLoadingProgress({ collection_name: name });
    assert.equal(Number(lp.progress), 100);
    // compaction: the output replaces its inputs in serving, reads exact
    const segsBefore = await metric(q, 'quiver_querynode_sealed_segments');
    assert.ok(segsBefore >= 4, `${segsBefore} sealed segments`);
    const cp = await c.compact({ collection_name: name });
    assert.equal(cp.status.error_code, 'Success', cp.status.reason);
    const cend = Date.now() + 60000;
    let segsAfter = segsBefore;
    while (Date.now() < cend && (segsAfter = await metric(q, 'quiver_querynode_sealed_segments')) >= segsBefore) {
      assert.equal(await count(c, name), live.length);
      assertSearch(await searchIds(c, name, 10), bruteForce(live, 10));
    }
    assert.ok(segsAfter < segsBefore, `sealed segments ${segsBefore} -> ${segsAfter}`);
    assert.equal(await metric(q, 'quiver_querynode_sealed_rows') <= ids.length, true);
    assert.equal(await count(c, name), live.length);
    assertSearch(await searchIds(c, name, 10), bruteForce(live, 10));
    const all = await c.query({
      collection_name: name, filter: 'id >= 0', output_fields: ['id', 'tag'], limit: 5000, consistency_level: STRONG,
    });
    assert.deepEqual(all.data.map((x) => Number(x.id)), live);
    assert.equal(Number((await c.getLoadingProgress({ collection_name: name })).progress), 100);
  } finally {
    await c.closeConnection();
    await q.stop();
  }
});

for (const signal of ['SIGTERM', 'SIGKILL']) {
  test(`sealed: after flush and ${signal}, the query node starts at the checkpoint`, async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-sealed-'));
    let q;
    let c;
    try {
      q = await startQuiver({ dataDir });
      c = new MilvusClient({ address: q.address, timeout: 30000 });
      const name = 'kept';
      assert.equal((await c.createCollection({ collection_name: name, fields, shards_num: 2 })).error_code, 'Success');
      assert.equal((await c.loadCollectionSync({ collection_name: name })).error_code, 'Success');
      for (let b = 0; b < 6; b++)
        assert.equal((await c.insert({ collection_name: name, data: rows(b * 200, 200) })).status.error_code, 'Success');
      await c.delete({ collection_name: name, filter: 'id in [3, 4]' });
      await flushSync(c, name);
      // a few rows after the flush stay in the log only
      assert.equal((await c.insert({ collection_name: name, data: rows(5000, 20) })).status.error_code, 'Success');
      const ids = [...Array(1200).keys()].filter((i) => i !== 3 && i !== 4)
        .concat([...Array(20).keys()].map((i) => 5000 + i));
      await waitSealed(q, 1200);
      const before = await c.query({
        collection_name: name, filter: 'id >= 0', output_fields: ['id', 'v', 'tag'],
        limit: 5000, consistency_level: STRONG,
      });
      assert.equal(before.data.length, ids.length);
      await c.closeConnection();
      if (signal === 'SIGKILL') {
        q.server.proc.kill('SIGKILL');
        await q.server.exited;
      } else {
        assert.equal((await q.stop()).code, 0);
      }
      q = await startQuiver({ dataDir });
      c = new MilvusClient({ address: q.address, timeout: 30000 });
      const lp = await c.loadCollectionSync({ collection_name: name });
      assert.equal(lp.error_code, 'Success');
      assert.equal(await count(c, name), ids.length);
      const after = await c.query({
        collection_name: name, filter: 'id >= 0', output_fields: ['id', 'v', 'tag'],
        limit: 5000, consistency_level: STRONG,
      });
      assert.deepEqual(after.data, before.data, 'query results byte-exact');
      assertSearch(await searchIds(c, name, 10), bruteForce(ids, 10));
      await waitSealed(q, 1200);
      const replayed = await metric(q, 'quiver_querynode_log_rows');
      assert.ok(replayed < ids.length,
        `replayed ${replayed} rows from the log, the collection holds ${ids.length}`);
      assert.match(q.output(), /starts at checkpoint position \d+ with \d+ sealed segment/);
    } finally {
      await c?.closeConnection();
      await q?.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
}

test('load: release then search fails with 101; partitions; replicas; progress', async () => {
  const q = await startQuiver();
  const c = new MilvusClient({ address: q.address, timeout: 30000 });
  try {
    const name = 'parts';
    assert.equal((await c.createCollection({ collection_name: name, fields })).error_code, 'Success');
    assert.equal((await c.createPartition({ collection_name: name, partition_name: 'p1' })).error_code, 'Success');
    assert.equal((await c.insert({ collection_name: name, data: rows(0, 50) })).status.error_code, 'Success');
    assert.equal((await c.insert({ collection_name: name, partition_name: 'p1', data: rows(100, 30) })).status.error_code, 'Success');
    await flushSync(c, name);
    // not loaded yet
    let s = await c.search({ collection_name: name, data: [QUERY], limit: 3 });
    assert.equal(s.status.code, 101, s.status.reason);
    let p = await c.getLoadingProgress({ collection_name: name });
    assert.notEqual(p.status.error_code, 'Success');
    // replicas beyond the query nodes: a clear error
    await assert.rejects(c.loadCollection({ collection_name: name, replica_number: 2 }),
      /resource group node not enough.*replica_number 2/);
    // partition load: only p1 serves
    assert.equal((await c.loadPartitions({ collection_name: name, partition_names: ['p1'] })).error_code, 'Success');
    const end = Date.now() + 30000;
    while (Date.now() < end && Number((p = await c.getLoadingProgress({ collection_name: name })).progress) < 100)
      await new Promise((r) => setTimeout(r, 200));
    assert.equal(Number(p.progress), 100);
    assert.equal(await count(c, name), 30);
    s = await c.search({ collection_name: name, data: [QUERY], limit: 3, partition_names: ['_default'] });
    assert.notEqual(s.status.error_code, 'Success');
    assert.match(s.status.reason, /partition not loaded/);
    assert.equal(s.status.code, 202, s.status.reason);
    s = await c.search({ collection_name: name, data: [QUERY], limit: 100, metric_type: 'L2', partition_names: ['p1'], consistency_level: STRONG });
    assert.equal(s.status.error_code, 'Success', s.status.reason);
    assert.equal(s.results.length, 30);
    // the whole collection
    assert.equal((await c.loadCollectionSync({ collection_name: name })).error_code, 'Success');
    assert.equal(await count(c, name), 80);
    const st = await c.getLoadState({ collection_name: name });
    assert.equal(st.state, 'LoadStateLoaded');
    const rep = await c.getReplicas({ collectionID: (await c.describeCollection({ collection_name: name })).collectionID });
    assert.equal(rep.status.error_code, 'Success', rep.status.reason);
    assert.equal(rep.replicas.length, 1);
    assert.equal(rep.replicas[0].shard_replicas.length, 1);
    assert.equal(rep.replicas[0].partition_ids.length, 2);
    // release a partition: its rows leave
    assert.equal((await c.releasePartitions({ collection_name: name, partition_names: ['p1'] })).error_code, 'Success');
    assert.equal(await count(c, name), 50);
    // release the collection: 101
    assert.equal((await c.releaseCollection({ collection_name: name })).error_code, 'Success');
    s = await c.search({ collection_name: name, data: [QUERY], limit: 3 });
    assert.equal(s.status.code, 101);
    assert.match(s.status.reason, /collection not loaded/);
    const qr = await c.query({ collection_name: name, filter: 'id >= 0' });
    assert.equal(qr.status.code, 101);
    assert.equal((await c.getLoadState({ collection_name: name })).state, 'LoadStateNotLoad');
    // and back
    assert.equal((await c.loadCollectionSync({ collection_name: name })).error_code, 'Success');
    assert.equal(await count(c, name), 80);
  } finally {
    await c.closeConnection();
    await q.stop();
  }
});

test('load: a query node over its memory limit reports a clear error', async () => {
  const q = await startQuiver({ extraArgs: ['--set', 'queryNode.memoryLimit=4KiB'] });
  const c = new MilvusClient({ address: q.address, timeout: 30000 });
  try {
    const name = 'big';
    assert.equal((await c.createCollection({ collection_name: name, fields })).error_code, 'Success');
    assert.equal((await c.insert({ collection_name: name, data: rows(0, 500) })).status.error_code, 'Success');
    await flushSync(c, name);
    await assert.rejects(c.loadCollection({ collection_name: name }), /memory limit/);
    const p = await c.getLoadingProgress({ collection_name: name });
    assert.notEqual(p.status.error_code, 'Success');
    assert.match(p.status.reason, /queryNode\.memoryLimit/);
    assert.equal(q.server.running(), true);
  } finally {
    await c.closeConnection();
    await q.stop();
  }
});

test('load: progress reaches 100 once every finished index is attached', async () => {
  const q = await startQuiver();
  const c = new MilvusClient({ address: q.address, timeout: 30000 });
  try {
    const name = 'indexed';
    assert.equal((await c.createCollection({ collection_name: name, fields })).error_code, 'Success');
    for (let b = 0; b < 3; b++)
      assert.equal((await c.insert({ collection_name: name, data: rows(b * 1000, 1000) })).status.error_code, 'Success');
    await flushSync(c, name);
    assert.equal((await c.insert({ collection_name: name, data: rows(3000, 1500) })).status.error_code, 'Success');
    await flushSync(c, name);
    const ix = await c.createIndex({
      collection_name: name, field_name: 'v', index_type: 'HNSW', metric_type: 'L2',
      params: { M: 16, efConstruction: 64 },
    });
    assert.equal(ix.error_code, 'Success', ix.reason);
    const end = Date.now() + 120000;
    let d;
    while (Date.now() < end) {
      d = (await c.describeIndex({ collection_name: name, field_name: 'v' })).index_descriptions[0];
      if (d.state === 'Finished') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(d.state, 'Finished');
    assert.equal((await c.loadCollectionSync({ collection_name: name })).error_code, 'Success');
    // 100 means every segment serves with its index attached
    const attached = (q.output().match(/index build \d+ of field \d+ attached/g) || []).length;
    assert.ok(attached >= 2, `indexes attached before progress 100: ${attached}\n${q.output()}`);
    const ids = [...Array(4500).keys()];
    assert.equal(await count(c, name), ids.length);
    const s = await c.search({
      collection_name: name, data: [QUERY], limit: 10, metric_type: 'L2', params: { ef: 200 },
      consistency_level: STRONG,
    });
    assert.equal(s.status.error_code, 'Success', s.status.reason);
    // vectors repeat (97 distinct), so compare distances with the brute force
    const want = bruteForce(ids, 10);
    assert.equal(s.results.length, 10);
    const hit = s.results.filter((h, i) => Math.abs(h.score - want[i][0]) <= 1e-3 * Math.max(1, want[i][0])).length;
    assert.ok(hit >= 9, `distances matching the brute force: ${hit}/10`);
  } finally {
    await c.closeConnection();
    await q.stop();
  }
});
