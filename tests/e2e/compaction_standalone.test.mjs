// compaction_standalone.test.mjs -- compaction and garbage collection in
// `quiver standalone` through the Node SDK: many small flushed segments,
// 30% deleted, a manual compaction merges them (fewer segments, the same
// answers, time travel to before the deletes still exact), GC deletes the
// inputs' objects once the retention window has passed, a second
// compaction then purges the deleted rows for good, and a travel timestamp
// older than the window is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConsistencyLevelEnum, DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { startQuiver } from './lib/servers.mjs';
import { int64s, parseColumn } from './lib/segfiles.mjs';

const STRONG = ConsistencyLevelEnum.Strong;
const DIM = 8;
const BATCHES = 12;
const PER_BATCH = 100;
const RETENTION_S = 20;
// Distinct float32-exact vectors, so that no two rows tie in a search.
const vec = (id) => Array.from({ length: DIM }, (_, d) => ((id * 7919 + d * 104729 + id * id * 31) % 10007) / 64);
const rows = (from, n) => Array.from({ length: n }, (_, i) => ({
  id: from + i, v: vec(from + i), tag: `t${(from + i) % 7}`,
}));
const QUERY = Array.from({ length: DIM }, (_, d) => (d * 13 % 29) / 4);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(pred, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

/** Every visible row (id, tag), sorted by id; at travel ts when given. */
async function allRows(c, name, travel) {
  const r = await c.query({
    collection_name: name, filter: 'id >= 0', output_fields: ['id', 'tag'],
    consistency_level: STRONG, limit: 16384,
    ...(travel ? { travel_timestamp: travel } : {}),
  });
  assert.equal(r.status.error_code, 'Success', r.status.reason);
  return r.data.map((x) => [Number(x.id), x.tag]).sort((a, b) => a[0] - b[0]);
}

async function count(c, name) {
  const r = await c.count({ collection_name: name, consistency_level: STRONG });
  assert.equal(r.status.error_code, 'Success', r.status.reason);
  return Number(r.data);
}

async function top(c, name) {
  const r = await c.search({
    collection_name: name, data: [QUERY], limit: 20, output_fields: ['id', 'tag'],
    metric_type: 'L2', consistency_level: STRONG,
  });
  assert.equal(r.status.error_code, 'Success', r.status.reason);
  return r.results.map((x) => [Number(x.id), x.tag, x.score])
    .sort((a, b) => a[2] - b[2] || a[0] - b[0]);
}

/** Rows of the flushed segments' PK column files, per segment id (GC may
 * leave empty directories behind while it deletes, or in between). */
function segmentRows(objects, coll) {
  const out = new Map();
  const base = path.join(objects, 'insert_log', String(coll));
  const ls = (p) => { try { return fs.readdirSync(p); } catch { return []; } };
  for (const part of ls(base)) {
    for (const seg of ls(path.join(base, part))) {
      const pkDir = path.join(base, part, seg, '100');
      const logs = ls(pkDir);
      if (logs.length === 0) continue;
      assert.equal(logs.length, 1, `segment ${seg}: ${logs.length} PK logs`);
      let buf;
      try { buf = fs.readFileSync(path.join(pkDir, logs[0])); } catch { continue; }
      out.set(Number(seg), int64s(parseColumn(buf)).length);
    }
  }
  return out;
}

/** The collection's flushed L1 segments (GetPersistentSegmentInfo): id ->
 * rows. */
async function persistent(c, name) {
  const r = await c.getPersistentSegmentInfo({ collectionName: name });
  assert.equal(r.status.error_code, 'Success', r.status.reason);
  return new Map(r.infos.filter((i) => i.level === 'L1' && Number(i.num_rows) > 0)
    .map((i) => [Number(i.segmentID), Number(i.num_rows)]));
}

async function compactAndWait(c, name) {
  const r = await c.compact({ collection_name: name });
  assert.equal(r.status.error_code, 'Success', r.status.reason);
  const id = r.compactionID;
  assert.ok(BigInt(id) > 0n, 'no compaction id');
  const st = await waitFor(async () => {
    const s = await c.getCompactionState({ compactionID: id });
    assert.equal(s.status.error_code, 'Success', s.status.reason);
    return s.state === 'Completed' ? s : null;
  }, 60000, 'compaction to complete');
  assert.equal(Number(st.failedPlanNo), 0);
  const plans = await c.getCompactionStateWithPlans({ compactionID: id });
  assert.equal(plans.status.error_code, 'Success', plans.status.reason);
  return { id, state: st, plans: plans.mergeInfos };
}

test('standalone compaction: merge, same answers, time travel, GC after retention, purge', { timeout: 300000 }, async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-compact-'));
  const objects = path.join(dataDir, 'objects');
  const extraArgs = [
    '--set', 'dataCoord.segment.maxRows=200',
    '--set', `common.dataRetention=${RETENTION_S}s`,
    '--set', 'gc.interval=1s',
    '--set', 'gc.scanInterval=1s',
    '--set', 'dataCoord.compaction.interval=0s',
  ];
  let q;
  let c;
  try {
    q = await startQuiver({ dataDir, extraArgs });
    c = new MilvusClient({ address: q.address, timeout: 30000 });
    const name = 'compacted';
    const cr = await c.createCollection({
      collection_name: name,
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: DIM },
        { name: 'tag', data_type: DataType.VarChar, max_length: 32 },
      ],
    });
    assert.equal(cr.error_code, 'Success', cr.reason);
    const desc = await c.describeCollection({ collection_name: name });
    const coll = desc.collectionID;
    await c.loadCollectionSync({ collection_name: name });

    // many small segments
    let ts0;
    for (let b = 0; b < BATCHES; b++) {
      const ins = await c.insert({ collection_name: name, data: rows(b * PER_BATCH, PER_BATCH) });
      assert.equal(ins.status.error_code, 'Success', ins.status.reason);
      ts0 = String(ins.timestamp);
      const f = await c.flushSync({ collection_names: [name] });
      assert.equal(f.status.error_code, 'Success', f.status.reason);
    }
    const total = BATCHES * PER_BATCH;
    const full = await allRows(c, name);
    assert.equal(full.length, total);

    // delete 30%; flushSync writes them into an L0 delete log (a Flush
    // commits pending deletes even when it seals no segment)
    const del = await c.delete({ collection_name: name, filter: 'id % 10 < 3' });
    assert.equal(del.status.error_code, 'Success', del.status.reason);
    const f2 = await c.flushSync({ collection_names: [name] });
    assert.equal(f2.status.error_code, 'Success', f2.status.reason);
    const live = full.filter(([id]) => id % 10 >= 3);
    assert.equal(await count(c, name), live.length);
    const rowsBefore = await allRows(c, name);
    assert.deepEqual(rowsBefore, live);
    const topBefore = await top(c, name);
    const before = segmentRows(objects, coll);
    assert.ok(before.size >= BATCHES, `${before.size} segments after ${BATCHES} flushes`);
    assert.deepEqual(await persistent(c, name), before);
    assert.equal([...before.values()].reduce((a, b) => a + b, 0), total);

    // manual compaction: fewer segments, identical answers
    const first = await compactAndWait(c, name);
    const sources = first.plans.flatMap((m) => m.sources.map(Number));
    const targets = first.plans.map((m) => Number(m.target));
    assert.ok(first.plans.length >= 1, 'no compaction plan');
    for (const s of before.keys()) assert.ok(sources.includes(s), `segment ${s} is no input`);
    assert.ok(targets.length < sources.length, `${targets.length} outputs for ${sources.length} inputs`);
    const after = segmentRows(objects, coll);
    for (const t of targets) assert.ok(after.has(t), `output ${t} has no files`);
    // the flushed segments are now the outputs only
    assert.deepEqual([...(await persistent(c, name)).keys()].sort(), [...targets].sort());
    // the deletes are newer than now - retention: nothing purged yet
    assert.equal(targets.reduce((a, t) => a + after.get(t), 0), total);
    assert.equal(await count(c, name), live.length);
    assert.deepEqual(await allRows(c, name), rowsBefore);
    assert.deepEqual(await top(c, name), topBefore);
    // time travel to before the deletes still shows every row
    assert.deepEqual(await allRows(c, name, ts0), full);

    // GC: once the inputs were dropped longer than the retention window ago
    // their objects go; queries stay right
    await waitFor(() => {
      const now = segmentRows(objects, coll);
      return sources.every((s) => !now.has(s)) ? now : null;
    }, (RETENTION_S + 30) * 1000, 'GC of the compaction inputs');
    const gcd = segmentRows(objects, coll);
    assert.deepEqual([...gcd.keys()].sort(), [...targets].sort());
    assert.equal(await count(c, name), live.length);
    assert.deepEqual(await allRows(c, name), rowsBefore);
    assert.deepEqual(await top(c, name), topBefore);

    // the deletes are now older than the window: a second compaction
    // purges them from the files
    const second = await compactAndWait(c, name);
    const t2 = second.plans.map((m) => Number(m.target));
    if (t2.length < 1) console.log(q.output());
    assert.ok(t2.length >= 1, 'no plan for the second compaction');
    const purged = segmentRows(objects, coll);
    assert.equal(t2.reduce((a, t) => a + purged.get(t), 0), live.length);
    assert.equal(await count(c, name), live.length);
    assert.deepEqual(await allRows(c, name), rowsBefore);
    assert.deepEqual(await top(c, name), topBefore);

    // a travel timestamp older than the window is refused
    const bad = await c.query({
      collection_name: name, filter: 'id >= 0', consistency_level: STRONG, travel_timestamp: ts0,
    });
    assert.notEqual(bad.status.error_code, 'Success');
    assert.match(bad.status.reason, /retention/);

    // metrics
    const m = await (await fetch(`http://127.0.0.1:${q.httpPort}/metrics`)).text();
    assert.match(m, /quiver_gc_objects_deleted_total [1-9]/);
    assert.match(m, /quiver_compaction_plans_total\{result="completed"\} [1-9]/);
    assert.ok(q.server.running(), `quiver exited:\n${q.output()}`);
  } finally {
    await c?.closeConnection();
    if (q) await q.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('compaction RPCs refuse bad requests clearly', { timeout: 60000 }, async () => {
  const q = await startQuiver();
  const c = new MilvusClient({ address: q.address, timeout: 15000 });
  try {
    const r = await c.compact({ collection_name: 'missing' }).catch((e) => ({ err: e }));
    // the SDK describes first: a missing collection fails there or here
    if (!r.err) assert.notEqual(r.status.error_code, 'Success');
    const s = await c.getCompactionState({ compactionID: '-5' });
    assert.notEqual(s.status.error_code, 'Success');
    // an id this coord does not know has nothing running
    const u = await c.getCompactionState({ compactionID: '123456789' });
    assert.equal(u.status.error_code, 'Success', u.status.reason);
    assert.equal(u.state, 'Completed');
  } finally {
    await c.closeConnection();
    await q.stop();
  }
});

test('GC: a dropped collection and old orphan objects leave the object store', { timeout: 120000 }, async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-gc-'));
  const objects = path.join(dataDir, 'objects');
  const extraArgs = ['--set', 'common.dataRetention=5s', '--set', 'gc.interval=1s',
    '--set', 'gc.scanInterval=1s', '--set', 'gc.orphanGracePeriod=1h'];
  let q;
  let c;
  try {
    q = await startQuiver({ dataDir, extraArgs });
    c = new MilvusClient({ address: q.address, timeout: 30000 });
    const fields = [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'v', data_type: DataType.FloatVector, dim: DIM },
      { name: 'tag', data_type: DataType.VarChar, max_length: 32 },
    ];
    for (const name of ['dropme', 'keepme']) {
      assert.equal((await c.createCollection({ collection_name: name, fields })).error_code, 'Success');
      assert.equal((await c.insert({ collection_name: name, data: rows(0, 50) })).status.error_code, 'Success');
      assert.equal((await c.flushSync({ collection_names: [name] })).status.error_code, 'Success');
    }
    const dropId = (await c.describeCollection({ collection_name: 'dropme' })).collectionID;
    const keepId = (await c.describeCollection({ collection_name: 'keepme' })).collectionID;
    // orphans: an object no record names, an hour and a half old, and a
    // fresh one (a datanode between upload and commit)
    const orphanDir = path.join(objects, 'insert_log', String(keepId), '1', '999999', '101');
    fs.mkdirSync(orphanDir, { recursive: true });
    const old = path.join(orphanDir, '1');
    const young = path.join(orphanDir, '2');
    fs.writeFileSync(old, 'x');
    fs.writeFileSync(young, 'y');
    const past = new Date(Date.now() - 90 * 60 * 1000);
    fs.utimesSync(old, past, past);
    assert.equal((await c.dropCollection({ collection_name: 'dropme' })).error_code, 'Success');
    const filesOf = (id) => ['insert_log', 'delta_log', 'stats_log'].flatMap((kind) => {
      const dir = path.join(objects, kind, String(id));
      let names = [];
      try { names = fs.readdirSync(dir, { recursive: true }); } catch { return []; }
      return names.filter((f) => {
        try { return fs.statSync(path.join(dir, f)).isFile(); } catch { return false; }
      });
    });
    assert.ok(filesOf(dropId).length >= 3);
    await waitFor(() => !fs.existsSync(old) && filesOf(dropId).length === 0,
      30000, 'GC of the dropped collection and the old orphan');
    assert.ok(fs.existsSync(young), 'a young orphan was deleted');
    assert.equal(segmentRows(objects, keepId).size, 1, 'the live collection keeps its segment');
    await c.loadCollectionSync({ collection_name: 'keepme' });
    const cnt = await c.count({ collection_name: 'keepme', consistency_level: STRONG });
    assert.equal(Number(cnt.data), 50);
    assert.ok(q.server.running(), `quiver exited:\n${q.output()}`);
  } finally {
    await c?.closeConnection();
    if (q) await q.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('compaction with an index: the output serves once indexed; GC removes the inputs\' and a dropped index\'s files', { timeout: 300000 }, async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-cidx-'));
  const objects = path.join(dataDir, 'objects');
  const extraArgs = ['--set', 'dataCoord.segment.maxRows=1100', '--set', 'common.dataRetention=10s',
    '--set', 'gc.interval=1s', '--set', 'dataCoord.compaction.interval=0s'];
  const buildDirs = () => {
    try { return fs.readdirSync(path.join(objects, 'index_files')).filter((b) => fs.readdirSync(path.join(objects, 'index_files', b), { recursive: true }).some((f) => fs.statSync(path.join(objects, 'index_files', b, f)).isFile())); } catch { return []; }
  };
  let q;
  let c;
  try {
    q = await startQuiver({ dataDir, extraArgs });
    c = new MilvusClient({ address: q.address, timeout: 30000 });
    const name = 'indexed';
    assert.equal((await c.createCollection({
      collection_name: name,
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: DIM },
        { name: 'tag', data_type: DataType.VarChar, max_length: 32 },
      ],
    })).error_code, 'Success');
    for (let b = 0; b < 3; b++) {
      assert.equal((await c.insert({ collection_name: name, data: rows(b * 1100, 1100) })).status.error_code, 'Success');
      assert.equal((await c.flushSync({ collection_names: [name] })).status.error_code, 'Success');
    }
    const ci = await c.createIndex({ collection_name: name, field_name: 'v', index_type: 'FLAT', metric_type: 'L2' });
    assert.equal(ci.error_code, 'Success', ci.reason);
    const finished = async () => {
      const d = await c.describeIndex({ collection_name: name, field_name: 'v' });
      assert.equal(d.status.error_code, 'Success', d.status.reason);
      const x = d.index_descriptions[0];
      return x.state === 'Finished' && Number(x.indexed_rows) === 3300 && Number(x.pending_index_rows) === 0;
    };
    await waitFor(finished, 60000, 'the index on every segment');
    await c.loadCollectionSync({ collection_name: name });
    const before = await top(c, name);
    const rowsBefore = await allRows(c, name);
    const buildsBefore = buildDirs();
    assert.equal(buildsBefore.length, 3, `builds: ${buildsBefore}`);

    const r = await c.compact({ collection_name: name });
    assert.equal(r.status.error_code, 'Success', r.status.reason);
    await waitFor(async () => (await c.getCompactionState({ compactionID: r.compactionID })).state === 'Completed',
      60000, 'compaction');
    const plans = (await c.getCompactionStateWithPlans({ compactionID: r.compactionID })).mergeInfos;
    assert.equal(plans.length, 1);
    const target = Number(plans[0].target);
    // the output gets its own build; until then the inputs serve: the
    // answers never change
    for (let i = 0; i < 10; i++) {
      assert.deepEqual(await top(c, name), before);
      await sleep(100);
    }
    await waitFor(finished, 60000, 'the output indexed');
    await waitFor(async () => {
      const p = await c.getLoadingProgress({ collection_name: name });
      return Number(p.progress) === 100;
    }, 60000, 'load progress 100 with the output');
    assert.deepEqual([...(await persistent(c, name)).keys()], [target]);
    assert.deepEqual(await top(c, name), before);
    assert.deepEqual(await allRows(c, name), rowsBefore);

    // GC: the inputs' builds go after the window, then the dropped index's
    await waitFor(() => buildsBefore.every((b) => !buildDirs().includes(b)), 30000,
      'GC of the inputs\' index files');
    assert.equal(buildDirs().length, 1);
    await c.releaseCollection({ collection_name: name });
    assert.equal((await c.dropIndex({ collection_name: name, field_name: 'v' })).error_code, 'Success');
    await waitFor(() => buildDirs().length === 0, 60000, 'GC of the dropped index\'s files');
    await c.loadCollectionSync({ collection_name: name });
    assert.deepEqual(await allRows(c, name), rowsBefore);
    assert.ok(q.server.running(), `quiver exited:\n${q.output()}`);
  } finally {
    await c?.closeConnection();
    if (q) await q.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('automatic compaction merges small flushed segments', { timeout: 120000 }, async () => {
  const q = await startQuiver({ extraArgs: ['--set', 'dataCoord.compaction.interval=1s',
    '--set', 'dataCoord.compaction.minSegmentRows=1000'] });
  const c = new MilvusClient({ address: q.address, timeout: 30000 });
  try {
    const name = 'auto';
    assert.equal((await c.createCollection({
      collection_name: name,
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: DIM },
        { name: 'tag', data_type: DataType.VarChar, max_length: 32 },
      ],
    })).error_code, 'Success');
    await c.loadCollectionSync({ collection_name: name });
    for (let b = 0; b < 3; b++) {
      assert.equal((await c.insert({ collection_name: name, data: rows(b * 50, 50) })).status.error_code, 'Success');
      assert.equal((await c.flushSync({ collection_names: [name] })).status.error_code, 'Success');
    }
    const full = await allRows(c, name);
    assert.equal(full.length, 150);
    const merged = await waitFor(async () => {
      const p = await persistent(c, name);
      return p.size === 1 ? p : null;
    }, 60000, 'automatic compaction');
    assert.deepEqual([...merged.values()], [150]);
    assert.deepEqual(await allRows(c, name), full);
    assert.ok(q.server.running(), `quiver exited:\n${q.output()}`);
  } finally {
    await c.closeConnection();
    await q.stop();
  }
});

test('compaction with VarChar keys, upserts across segments and time travel', { timeout: 120000 }, async () => {
  const q = await startQuiver({ extraArgs: ['--set', 'dataCoord.segment.maxRows=100',
    '--set', 'dataCoord.compaction.interval=0s'] });
  const c = new MilvusClient({ address: q.address, timeout: 30000 });
  const key = (i) => `k${String(i).padStart(4, '0')}`;
  const row = (i, gen) => ({ pk: key(i), v: vec(i + gen * 1000), gen });
  const read = async (travel) => {
    const r = await c.query({
      collection_name: 'vk', filter: 'gen >= 0', output_fields: ['pk', 'gen'],
      consistency_level: STRONG, limit: 16384, ...(travel ? { travel_timestamp: travel } : {}),
    });
    assert.equal(r.status.error_code, 'Success', r.status.reason);
    return r.data.map((x) => [x.pk, Number(x.gen)]).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  };
  try {
    assert.equal((await c.createCollection({
      collection_name: 'vk',
      fields: [
        { name: 'pk', data_type: DataType.VarChar, is_primary_key: true, max_length: 16 },
        { name: 'v', data_type: DataType.FloatVector, dim: DIM },
        { name: 'gen', data_type: DataType.Int64 },
      ],
    })).error_code, 'Success');
    await c.loadCollectionSync({ collection_name: 'vk' });
    for (let b = 0; b < 4; b++) {
      const data = Array.from({ length: 80 }, (_, i) => row(b * 80 + i, 0));
      assert.equal((await c.insert({ collection_name: 'vk', data })).status.error_code, 'Success');
      assert.equal((await c.flushSync({ collection_names: ['vk'] })).status.error_code, 'Success');
    }
    const t0 = String((await c.insert({ collection_name: 'vk', data: [row(9999, 0)] })).timestamp);
    // newer versions of keys that live in older segments, then deletes
    const up = await c.upsert({ collection_name: 'vk', data: Array.from({ length: 40 }, (_, i) => row(i * 7, 1)) });
    assert.equal(up.status.error_code, 'Success', up.status.reason);
    const t1 = String(up.timestamp);
    const del = await c.delete({ collection_name: 'vk', filter: 'pk like "k01%"' });
    assert.equal(del.status.error_code, 'Success', del.status.reason);
    assert.equal((await c.flushSync({ collection_names: ['vk'] })).status.error_code, 'Success');
    const now = await read();
    const at0 = await read(t0);
    const at1 = await read(t1);
    assert.equal(at0.length, 321);
    assert.ok(at1.some(([, g]) => g === 1));
    assert.ok(!now.some(([k]) => k.startsWith('k01')));

    const r = await c.compact({ collection_name: 'vk' });
    assert.equal(r.status.error_code, 'Success', r.status.reason);
    await waitFor(async () => (await c.getCompactionState({ compactionID: r.compactionID })).state === 'Completed',
      60000, 'compaction');
    const plans = (await c.getCompactionStateWithPlans({ compactionID: r.compactionID })).mergeInfos;
    assert.ok(plans.length >= 1);
    await waitFor(async () => (await persistent(c, 'vk')).size === plans.length, 30000, 'the outputs serving');
    assert.deepEqual(await read(), now);
    assert.deepEqual(await read(t0), at0);
    assert.deepEqual(await read(t1), at1);
    const cnt = await c.count({ collection_name: 'vk', consistency_level: STRONG });
    assert.equal(Number(cnt.data), now.length);
    assert.ok(q.server.running(), `quiver exited:\n${q.output()}`);
  } finally {
    await c.closeConnection();
    await q.stop();
  }
});
