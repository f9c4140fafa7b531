// compaction_cluster.test.mjs -- compaction and garbage collection with
// every role its own process (`quiver run coord|proxy|querynode|datanode`)
// on etcd, the Kafka test broker and s3rver: small flushed segments, 30%
// deleted, a manual compaction merges them with the same answers and time
// travel to before the deletes intact; the coord's GC (S3) deletes the
// inputs' objects once the retention window has passed; a second
// compaction purges the deleted rows from the objects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ConsistencyLevelEnum, DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { startCluster, waitFor } from './lib/cluster.mjs';
import {
  HOST, freePort, quiverBin, repoRoot, spawnServer, startEtcd, startKafkaBroker, startS3rver,
} from './lib/servers.mjs';
import { int64s, parseColumn } from './lib/segfiles.mjs';

const STRONG = ConsistencyLevelEnum.Strong;
const DIM = 8;
const BATCHES = 6;
const PER_BATCH = 100;
const RETENTION_S = 20;
const vec = (id) => Array.from({ length: DIM }, (_, d) => ((id * 7919 + d * 104729 + id * id * 31) % 10007) / 64);
const rows = (from, n) => Array.from({ length: n }, (_, i) => ({
  id: from + i, v: vec(from + i), tag: `t${(from + i) % 7}`,
}));
const QUERY = Array.from({ length: DIM }, (_, d) => (d * 13 % 29) / 4);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const canConnect = (port) => new Promise((resolve) => {
  const s = net.connect({ port, host: HOST });
  const done = (ok) => { s.destroy(); resolve(ok); };
  s.once('connect', () => done(true));
  s.once('error', () => done(false));
  s.setTimeout(500, () => done(false));
});

async function startRoleOn(role, common, name) {
  const port = await freePort();
  const httpPort = await freePort();
  const key = role === 'datanode' ? 'dataNode' : 'queryNode';
  const h = spawnServer(name, quiverBin(), ['run', role,
    '--set', `${key}.port=${port}`, '--set', `${key}.listenAddress=127.0.0.1`,
    '--set', `http.port=${httpPort}`, ...common], { cwd: repoRoot });
  await waitFor(() => canConnect(port), 20000, h);
  return h;
}

async function until(pred, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

/** Keys under prefix in the bucket (S3 ListObjects v1, paged). */
async function listKeys(s3, prefix) {
  const keys = [];
  let marker = '';
  for (;;) {
    const u = `${s3.endpoint}/quiver?prefix=${encodeURIComponent(prefix)}` +
      (marker ? `&marker=${encodeURIComponent(marker)}` : '');
    const r = await fetch(u);
    assert.equal(r.status, 200, `list ${prefix}`);
    const x = await r.text();
    const page = [...x.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]);
    keys.push(...page);
    if (!/<IsTruncated>true<\/IsTruncated>/.test(x) || page.length === 0) break;
    marker = page[page.length - 1];
  }
  return keys;
}

/** Rows of each segment's PK column object (field pk), by segment id. */
async function segmentRows(s3, coll, pk) {
  const out = new Map();
  for (const key of await listKeys(s3, `insert_log/${coll}/`)) {
    const [, , , seg, field] = key.split('/');
    if (Number(field) !== pk) continue;
    const r = await fetch(`${s3.endpoint}/quiver/${key}`);
    if (r.status !== 200) continue; /* deleted meanwhile */
    out.set(Number(seg), int64s(parseColumn(Buffer.from(await r.arrayBuffer()))).length);
  }
  return out;
}

async function allRows(c, name, travel) {
  const r = await c.query({
    collection_name: name, filter: 'id >= 0', output_fields: ['id', 'tag'],
    consistency_level: STRONG, limit: 16384,
    ...(travel ? { travel_timestamp: travel } : {}),
  });
  assert.equal(r.status.error_code, 'Success', r.status.reason);
  return r.data.map((x) => [Number(x.id), x.tag]).sort((a, b) => a[0] - b[0]);
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

async function compactAndWait(c, name) {
  const r = await c.compact({ collection_name: name });
  assert.equal(r.status.error_code, 'Success', r.status.reason);
  const st = await until(async () => {
    const s = await c.getCompactionState({ compactionID: r.compactionID });
    assert.equal(s.status.error_code, 'Success', s.status.reason);
    return s.state === 'Completed' ? s : null;
  }, 90000, 'compaction to complete');
  assert.equal(Number(st.failedPlanNo), 0);
  const p = await c.getCompactionStateWithPlans({ compactionID: r.compactionID });
  assert.equal(p.status.error_code, 'Success', p.status.reason);
  return p.mergeInfos;
}

test('cluster compaction and GC on S3', { timeout: 300000 }, async () => {
  const etcd = await startEtcd();
  const kafka = await startKafkaBroker();
  const s3 = await startS3rver();
  const procs = [];
  let cl;
  let c;
  try {
    const common = ['--set', 'metakv.backend=etcd', '--set', `etcd.endpoints=${etcd.endpoint}`,
      '--set', 'session.ttl=2s', '--set', 'wal.backend=kafka', '--set', `kafka.brokers=${kafka.bootstrap}`,
      '--set', 'objstore.backend=s3', '--set', `s3.endpoint=${s3.endpoint}`,
      '--set', `s3.accessKey=${s3.accessKeyId}`, '--set', `s3.secretKey=${s3.secretAccessKey}`,
      '--set', 'dataCoord.segment.maxRows=200', '--set', `common.dataRetention=${RETENTION_S}s`,
      '--set', 'gc.interval=1s', '--set', 'gc.scanInterval=1s',
      '--set', 'dataCoord.compaction.interval=0s'];
    cl = await startCluster({ etcd, ttl: '2s', extraArgs: common.slice(4) });
    procs.push(await startRoleOn('querynode', common, 'querynode0'));
    procs.push(await startRoleOn('datanode', common, 'datanode0'));
    c = new MilvusClient({ address: cl.address, timeout: 30000 });
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
    const d = await c.describeCollection({ collection_name: name });
    const coll = Number(d.collectionID);
    const pk = Number(d.schema.fields.find((f) => f.name === 'id').fieldID);
    assert.equal((await c.loadCollectionSync({ collection_name: name })).error_code, 'Success');

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
    const del = await c.delete({ collection_name: name, filter: 'id % 10 < 3' });
    assert.equal(del.status.error_code, 'Success', del.status.reason);
    const extra = rows(100000, 7);
    assert.equal((await c.insert({ collection_name: name, data: extra })).status.error_code, 'Success');
    assert.equal((await c.flushSync({ collection_names: [name] })).status.error_code, 'Success');
    const live = full.filter(([id]) => id % 10 >= 3).concat(extra.map((r) => [r.id, r.tag]));
    const rowsBefore = await allRows(c, name);
    assert.deepEqual(rowsBefore, live);
    const topBefore = await top(c, name);
    const before = await segmentRows(s3, coll, pk);
    assert.ok(before.size > BATCHES, `${before.size} segment objects`);

    const plans = await compactAndWait(c, name);
    const sources = plans.flatMap((m) => m.sources.map(Number));
    const targets = plans.map((m) => Number(m.target));
    for (const s of before.keys()) assert.ok(sources.includes(s), `segment ${s} is no input`);
    assert.ok(targets.length < sources.length);
    assert.deepEqual(await allRows(c, name), rowsBefore);
    assert.deepEqual(await top(c, name), topBefore);
    assert.deepEqual(await allRows(c, name, ts0), full);

    await until(async () => {
      const now = await segmentRows(s3, coll, pk);
      return sources.every((s) => !now.has(s));
    }, (RETENTION_S + 40) * 1000, 'GC of the inputs on S3');
    const left = await listKeys(s3, `insert_log/${coll}/`);
    for (const k of left) assert.ok(targets.includes(Number(k.split('/')[3])), `object ${k} left`);
    assert.deepEqual(await allRows(c, name), rowsBefore);

    const second = await compactAndWait(c, name);
    const t2 = second.map((m) => Number(m.target));
    assert.ok(t2.length >= 1, 'no plan for the second compaction');
    const purged = await segmentRows(s3, coll, pk);
    assert.equal(t2.reduce((a, t) => a + purged.get(t), 0), live.length);
    assert.deepEqual(await allRows(c, name), rowsBefore);
    assert.deepEqual(await top(c, name), topBefore);
    for (const h of [...procs, ...cl.coords, ...cl.proxies])
      assert.ok(h.running(), `${h.name} exited:\n${h.output()}`);
  } finally {
    await c?.closeConnection();
    for (const p of procs.reverse()) await p.stop();
    await cl?.stop();
    await s3.stop();
    await kafka.stop();
    await etcd.stop();
  }
});
