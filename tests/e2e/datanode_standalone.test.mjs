// datanode_standalone.test.mjs -- the datanode of `quiver standalone`:
// 10K rows of every field type are sealed (rows policy and Flush), written
// under <data>/objects/insert_log/... and recorded; GetFlushState turns
// true once they are; flushSync returns only after every row is in a
// flushed segment's files (each row in exactly one segment, the column
// bytes equal to what was inserted); after a restart the segments are
// still recorded and the data still reads back exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConsistencyLevelEnum, DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { startQuiver } from './lib/servers.mjs';
import {
  int64s, localSegments, parseColumn, rowBytes, strings,
} from './lib/segfiles.mjs';

const STRONG = ConsistencyLevelEnum.Strong;
const N = 10000;
const BATCH = 1000;
const DIM = 8;
const f32 = (x) => Math.fround(x);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

const scalarFields = [
  { name: 'id', data_type: DataType.Int64, is_primary_key: true },
  { name: 'vec', data_type: DataType.FloatVector, dim: DIM },
  { name: 'b', data_type: DataType.Bool },
  { name: 'i8', data_type: DataType.Int8 },
  { name: 'i16', data_type: DataType.Int16 },
  { name: 'i32', data_type: DataType.Int32 },
  { name: 'i64', data_type: DataType.Int64 },
  { name: 'f', data_type: DataType.Float },
  { name: 'd', data_type: DataType.Double },
  { name: 's', data_type: DataType.VarChar, max_length: 64 },
  { name: 'j', data_type: DataType.JSON },
  { name: 'arr', data_type: DataType.Array, element_type: DataType.Int32, max_capacity: 4 },
  { name: 'opt', data_type: DataType.VarChar, max_length: 32, nullable: true },
  { name: 'bv', data_type: DataType.BinaryVector, dim: 16 },
  { name: 'h', data_type: DataType.Float16Vector, dim: 4 },
  { name: 'bf', data_type: DataType.BFloat16Vector, dim: 4 },
];

// Sparse and Int8 vectors: a collection of their own (at most 4 vector
// fields per collection), with a VarChar key.
const otherFields = [
  { name: 'id', data_type: DataType.VarChar, is_primary_key: true, max_length: 12 },
  { name: 'sp', data_type: DataType.SparseFloatVector },
  { name: 'v8', data_type: DataType.Int8Vector, dim: 4 },
];

function rowsA(r) {
  return Array.from({ length: N }, (_, id) => ({
    id,
    vec: Array.from({ length: DIM }, () => f32(r() * 2 - 1)),
    b: id % 3 === 0,
    i8: (id % 250) - 125,
    i16: (id * 7) % 30000 - 15000,
    i32: id * 1001,
    i64: id * 1000003 - 5,
    f: f32(id / 7),
    d: id / 3,
    s: `row-${id}`,
    j: { k: id, tag: id % 5 === 0 ? 'five' : 'other' },
    arr: [id % 10, id % 7],
    opt: id % 4 === 0 ? null : `opt-${id}`,
    bv: [id % 256, (id * 3) % 256],
    h: [id % 16, 0.5, 1, -2],
    bf: [(id % 8) + 1, 0.25, 2, -1],
  }));
}

function rowsB() {
  return Array.from({ length: N }, (_, i) => ({
    id: `k${i}`,
    sp: { [i % 97]: 0.5, [100 + (i % 13)]: 1.5 },
    v8: [i % 100, 0 - (i % 100), 7, -7],
  }));
}

async function insertAll(c, name, rows) {
  for (let i = 0; i < rows.length; i += BATCH) {
    const r = await c.insert({ collection_name: name, data: rows.slice(i, i + BATCH) });
    assert.equal(r.status.error_code, 'Success', r.status.reason);
    assert.equal(Number(r.insert_cnt), Math.min(BATCH, rows.length - i));
  }
}

/** Polls GetFlushState (bounded) until flushed. */
async function waitFlushed(c, ids, ms) {
  const end = Date.now() + ms;
  for (;;) {
    const st = await c.getFlushState({ segmentIDs: ids });
    assert.equal(st.status.error_code, 'Success', st.status.reason);
    if (st.flushed) return;
    if (Date.now() > end) throw new Error(`segments ${ids} not flushed within ${ms} ms`);
    await sleep(100);
  }
}

async function describe(c, name) {
  const d = await c.describeCollection({ collection_name: name });
  assert.equal(d.status.error_code, 'Success', d.status.reason);
  const ids = Object.fromEntries(d.schema.fields.map((f) => [f.name, Number(f.fieldID)]));
  return { coll: Number(d.collectionID), ids };
}

async function queryAll(c, name, pkFilter) {
  const got = await c.query({
    collection_name: name, filter: pkFilter, output_fields: ['*'], limit: N + 10,
    consistency_level: STRONG,
  });
  assert.equal(got.status.error_code, 'Success', got.status.reason);
  return got.data;
}

function checkRowsA(got, rows) {
  assert.equal(got.length, rows.length);
  got.sort((x, y) => Number(x.id) - Number(y.id));
  for (let i = 0; i < rows.length; i++) {
    const a = got[i];
    const e = rows[i];
    assert.equal(Number(a.id), e.id);
    assert.deepEqual(a.vec, e.vec);
    assert.equal(a.b, e.b);
    assert.equal(a.i8, e.i8);
    assert.equal(a.i16, e.i16);
    assert.equal(a.i32, e.i32);
    assert.equal(Number(a.i64), e.i64);
    assert.equal(a.f, e.f);
    assert.equal(a.d, e.d);
    assert.equal(a.s, e.s);
    assert.deepEqual(a.j, e.j);
    assert.deepEqual(a.arr.map(Number), e.arr);
    assert.equal(a.opt, e.opt);
    assert.deepEqual(a.bv, e.bv);
    assert.deepEqual(a.h, e.h);
    assert.deepEqual(a.bf, e.bf);
  }
}

function checkRowsB(got, rows) {
  assert.equal(got.length, rows.length);
  const byId = new Map(got.map((x) => [x.id, x]));
  for (const e of rows) {
    const a = byId.get(e.id);
    assert.ok(a, `row ${e.id} missing`);
    assert.deepEqual(a.v8, e.v8);
    const sp = Object.fromEntries(Object.entries(a.sp).map(([k, v]) => [String(k), v]));
    assert.deepEqual(sp, Object.fromEntries(Object.entries(e.sp).map(([k, v]) => [String(k), v])));
  }
}

/**
 * Every row of `rows` is in exactly one flushed segment's files; the PK,
 * timestamp and (for A) vector columns agree row by row.  Returns the
 * segment ids found.
 */
function checkFiles(objects, desc, rows, kind) {
  const segs = localSegments(objects, desc.coll);
  assert.ok(segs.length >= 2, `expected several segments, found ${segs.length}`);
  const seen = new Map();
  let total = 0;
  for (const s of segs) {
    const pk = parseColumn(fs.readFileSync(s.fields[desc.ids.id]));
    const ts = parseColumn(fs.readFileSync(s.fields[1]));
    assert.equal(ts.rows, pk.rows, `segment ${s.seg}: timestamps`);
    for (const [name, fid] of Object.entries(desc.ids)) {
      assert.ok(s.fields[fid], `segment ${s.seg} has no insert log of ${name}`);
      assert.equal(parseColumn(fs.readFileSync(s.fields[fid])).rows, pk.rows, `segment ${s.seg} field ${name}`);
    }
    const keys = kind === 'A' ? int64s(pk).map(Number) : strings(pk);
    const vec = kind === 'A' ? parseColumn(fs.readFileSync(s.fields[desc.ids.vec])) : null;
    keys.forEach((k, i) => {
      assert.ok(!seen.has(k), `row ${k} in segments ${seen.get(k)} and ${s.seg}`);
      seen.set(k, s.seg);
      if (vec) {
        const want = Buffer.from(new Float32Array(rows[k].vec).buffer);
        assert.ok(rowBytes(vec, i).equals(want), `row ${k}: vector bytes differ`);
      }
    });
    total += pk.rows;
  }
  assert.equal(total, rows.length);
  for (const r of rows) assert.ok(seen.has(r.id), `row ${r.id} is in no flushed segment`);
  return segs.map((s) => s.seg);
}

test('standalone datanode: sealed segments are written, recorded and survive a restart', { timeout: 240000 }, async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-dn-'));
  const objects = path.join(dataDir, 'objects');
  // Small segments so that 10K rows seal several by the rows policy.
  // No automatic compaction: the files checked are the flushed ones.
  const extraArgs = ['--set', 'dataCoord.segment.maxRows=2000',
    '--set', 'dataCoord.compaction.interval=0s'];
  let q;
  let c;
  try {
    q = await startQuiver({ dataDir, extraArgs });
    c = new MilvusClient({ address: q.address, timeout: 30000 });
    for (const [name, fields] of [['alltypes', scalarFields], ['othervec', otherFields]]) {
      const r = await c.createCollection({ collection_name: name, fields, shards_num: 2 });
      assert.equal(r.error_code, 'Success', r.reason);
    }
    const A = rowsA(rng(11));
    const B = rowsB();
    // first half, then an asynchronous Flush: GetFlushState turns true
    await insertAll(c, 'alltypes', A.slice(0, N / 2));
    const fl = await c.flush({ collection_names: ['alltypes'] });
    assert.equal(fl.status.error_code, 'Success', fl.status.reason);
    const ids = fl.coll_segIDs.alltypes.data.map(Number);
    assert.ok(ids.length >= 1, 'flush sealed no segment');
    await waitFlushed(c, ids, 30000);

    // the rest, then flushSync: every row is in files when it returns
    await insertAll(c, 'alltypes', A.slice(N / 2));
    await insertAll(c, 'othervec', B);
    const t0 = Date.now();
    const fs1 = await c.flushSync({ collection_names: ['alltypes', 'othervec'] });
    assert.equal(fs1.status.error_code, 'Success', fs1.status.reason);
    assert.equal(fs1.flushed, true);
    const flushMs = Date.now() - t0;
    const dA = await describe(c, 'alltypes');
    const dB = await describe(c, 'othervec');
    const segsA = checkFiles(objects, dA, A, 'A');
    const segsB = checkFiles(objects, dB, B, 'B');
    for (const s of ids) assert.ok(segsA.includes(s), `flushed segment ${s} has no files`);
    // stats and delete logs are written with each segment
    for (const s of segsA) {
      assert.ok(fs.existsSync(path.join(objects, 'stats_log', String(dA.coll))), 'no stats logs');
      assert.ok(s > 0);
    }
    const all = [...segsA, ...segsB];
    const st = await c.getFlushState({ segmentIDs: all });
    assert.equal(st.flushed, true);
    const bogus = await c.getFlushState({ segmentIDs: [...all, 987654321] });
    assert.equal(bogus.status.error_code, 'Success', bogus.status.reason);
    assert.equal(bogus.flushed, false, 'an unknown segment counts as flushed');
    console.log(`# flushSync of ${2 * N - N / 2} rows: ${flushMs} ms; segments: ${segsA.length} + ${segsB.length}`);

    await c.closeConnection();
    assert.equal((await q.stop()).code, 0, q.output());
    q = await startQuiver({ dataDir, extraArgs });
    c = new MilvusClient({ address: q.address, timeout: 30000 });
    const st2 = await c.getFlushState({ segmentIDs: all });
    assert.equal(st2.flushed, true, 'segments not recorded after the restart');
    // the files are unchanged and nothing was flushed twice
    assert.deepEqual(checkFiles(objects, dA, A, 'A').sort(), [...segsA].sort());
    for (const name of ['alltypes', 'othervec']) {
      assert.equal((await c.loadCollectionSync({ collection_name: name })).error_code, 'Success');
    }
    checkRowsA(await queryAll(c, 'alltypes', 'id >= 0'), A);
    checkRowsB(await queryAll(c, 'othervec', 'id != ""'), B);
    const cnt = await c.count({ collection_name: 'alltypes', consistency_level: STRONG });
    assert.equal(Number(cnt.data), N);
  } finally {
    await c?.closeConnection();
    if (q) await q.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
