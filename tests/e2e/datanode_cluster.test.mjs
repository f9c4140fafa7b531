// datanode_cluster.test.mjs -- datanodes as processes: `quiver run coord`,
// `run proxy`, `run querynode` and `run datanode` on etcd, the Kafka test
// broker and s3rver.  A stream of inserts runs while small segments are
// sealed (rows policy); the datanode is SIGKILLed mid-stream and another
// one started; after flushSync every acknowledged row is in exactly one
// flushed segment: the SegmentInfo records in etcd (their row counts) and
// the PK column objects in S3 (their keys) both hold each row once, none
// lost, none twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import protobuf from 'protobufjs';
import { ConsistencyLevelEnum, DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { startCluster, waitFor } from './lib/cluster.mjs';
import {
  HOST, freePort, quiverBin, repoRoot, spawnServer, startEtcd, startKafkaBroker, startS3rver,
} from './lib/servers.mjs';
import { int64s, parseColumn } from './lib/segfiles.mjs';

const STRONG = ConsistencyLevelEnum.Strong;
const BATCH = 100;
const BATCHES = 80;

const canConnect = (port) => new Promise((resolve) => {
  const s = net.connect({ port, host: HOST });
  const done = (ok) => { s.destroy(); resolve(ok); };
  s.once('connect', () => done(true));
  s.once('error', () => done(false));
  s.setTimeout(500, () => done(false));
});

function loadMeta() {
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => path.join(repoRoot, 'proto', target);
  root.loadSync(['internal/meta.proto'], { keepCase: true });
  root.resolveAll();
  return root.lookupType('quiver.internal.SegmentInfo');
}

/** Every value under prefix in etcd (its JSON gateway), decoded. */
async function etcdRange(etcd, prefix, type) {
  const b64 = (s) => Buffer.from(s).toString('base64');
  const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
  const r = await fetch(`http://${etcd.endpoint}/v3/kv/range`, {
    method: 'POST', body: JSON.stringify({ key: b64(prefix), range_end: b64(end) }),
  });
  assert.ok(r.ok, `etcd range: ${r.status}`);
  const j = await r.json();
  return (j.kvs || []).map((kv) => type.toObject(type.decode(Buffer.from(kv.value, 'base64')),
    { longs: Number, enums: String, defaults: true }));
}

async function startRoleOn(role, etcd, common, name) {
  const port = await freePort();
  const httpPort = await freePort();
  const key = role === 'datanode' ? 'dataNode' : 'queryNode';
  const h = spawnServer(name, quiverBin(), ['run', role,
    '--set', `${key}.port=${port}`, '--set', `${key}.listenAddress=127.0.0.1`,
    '--set', `http.port=${httpPort}`, ...common], { cwd: repoRoot });
  await waitFor(() => canConnect(port), 20000, h);
  return h;
}

test('quiver run datanode refuses a configuration without a shared log or object store', async () => {
  const etcd = await startEtcd();
  try {
    const base = ['run', 'datanode', '--set', 'metakv.backend=etcd', '--set', `etcd.endpoints=${etcd.endpoint}`,
      '--set', `http.port=${await freePort()}`, '--set', `dataNode.port=${await freePort()}`];
    const cases = [
      [[], /quiver run datanode needs wal\.backend: kafka/],
      [['--set', 'wal.backend=kafka', '--set', 'kafka.brokers=127.0.0.1:1'], /objstore\.backend 'fs' works only for quiver standalone/],
    ];
    for (const [extra, want] of cases) {
      const h = spawnServer('datanode-bad', quiverBin(), [...base, ...extra], { cwd: repoRoot });
      const ex = await Promise.race([h.exited, new Promise((r) => setTimeout(() => r(null), 20000).unref())]);
      assert.ok(ex, `quiver run datanode kept running:\n${h.output()}`);
      assert.equal(ex.code, 1, h.output());
      assert.match(h.output(), want);
    }
  } finally {
    await etcd.stop();
  }
});

test('cluster datanode: a datanode killed mid-stream is replaced; every acknowledged row is in exactly one flushed segment', { timeout: 300000 }, async () => {
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
      '--set', 'dataCoord.segment.maxRows=500', '--set', 'dataCoord.compaction.interval=0s'];
    cl = await startCluster({ etcd, ttl: '2s', extraArgs: common.slice(4) });
    procs.push(await startRoleOn('querynode', etcd, common, 'querynode0'));
    let dn = await startRoleOn('datanode', etcd, common, 'datanode0');
    procs.push(dn);
    c = new MilvusClient({ address: cl.address, timeout: 30000 });
    const cr = await c.createCollection({
      collection_name: 'stream', shards_num: 2,
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: 4 },
        { name: 'tag', data_type: DataType.VarChar, max_length: 16 },
      ],
    });
    assert.equal(cr.error_code, 'Success', cr.reason);
    const d = await c.describeCollection({ collection_name: 'stream' });
    const coll = Number(d.collectionID);
    const pkField = Number(d.schema.fields.find((f) => f.name === 'id').fieldID);
    const SegmentInfo = loadMeta();
    const segPrefix = `quiver/meta/seg/${coll}/`;

    const acked = new Set();
    let next = 0;
    const insertBatch = async () => {
      const data = Array.from({ length: BATCH }, (_, i) => {
        const id = next + i;
        return { id, v: [id, 1, 0, 0], tag: `t${id % 7}` };
      });
      next += BATCH;
      const r = await c.insert({ collection_name: 'stream', data });
      if (r.status.error_code === 'Success') for (const x of data) acked.add(x.id);
    };
    // the stream: the datanode dies once it has flushed something
    let batches = 0;
    while (batches < BATCHES / 2) {
      await insertBatch();
      batches++;
    }
    await waitFor(async () => (await etcdRange(etcd, segPrefix, SegmentInfo)).length > 0, 30000, dn);
    const flushedBefore = (await etcdRange(etcd, segPrefix, SegmentInfo)).length;
    dn.proc.kill('SIGKILL');
    assert.equal((await dn.exited).signal, 'SIGKILL');
    while (batches < (3 * BATCHES) / 4) {
      await insertBatch();
      batches++;
    }
    dn = await startRoleOn('datanode', etcd, common, 'datanode1');
    procs.push(dn);
    while (batches < BATCHES) {
      await insertBatch();
      batches++;
    }
    assert.equal(acked.size, BATCHES * BATCH, 'an insert was not acknowledged');
    const fl = await Promise.race([
      c.flushSync({ collection_names: ['stream'] }),
      new Promise((_, rej) => setTimeout(() => rej(new Error(`flushSync did not return:\n${dn.output()}`)), 90000).unref()),
    ]);
    assert.equal(fl.status.error_code, 'Success', fl.status.reason);
    assert.match(dn.output(), /consuming vchannel/, 'the new datanode took no channel');

    // SegmentInfo records: row counts add up, each L1 segment's PK column
    // object holds its keys, and every key is in exactly one segment
    const infos = (await etcdRange(etcd, segPrefix, SegmentInfo)).filter((s) => s.level === 'SEG_L1');
    assert.ok(infos.length > flushedBefore, `segments: ${infos.length}, before the kill ${flushedBefore}`);
    const total = infos.reduce((n, s) => n + s.rows, 0);
    const where = new Map();
    for (const s of infos) {
      assert.equal(s.state, 'SEG_FLUSHED');
      if (s.rows === 0) continue;
      const key = `insert_log/${coll}/${s.partition_id}/${s.id}/${pkField}/${s.log_id}`;
      const r = await fetch(`${s3.endpoint}/quiver/${key}`);
      assert.equal(r.status, 200, `object ${key}`);
      const col = parseColumn(Buffer.from(await r.arrayBuffer()));
      assert.equal(col.rows, s.rows, `segment ${s.id}: object rows vs SegmentInfo`);
      for (const k of int64s(col).map(Number)) {
        assert.ok(!where.has(k), `row ${k} in segments ${where.get(k)} and ${s.id}`);
        where.set(k, s.id);
      }
    }
    assert.equal(total, acked.size, `rows recorded ${total}, acknowledged ${acked.size}`);
    for (const id of acked) assert.ok(where.has(id), `acknowledged row ${id} is in no flushed segment`);
    assert.equal(where.size, acked.size);
    console.log(`# ${acked.size} rows in ${infos.length} segments; ${flushedBefore} recorded before the kill`);

    // the data path still answers (served from the log by the query node)
    assert.equal((await c.loadCollectionSync({ collection_name: 'stream' })).error_code, 'Success');
    const cnt = await c.count({ collection_name: 'stream', consistency_level: STRONG });
    assert.equal(Number(cnt.data), acked.size);
  } finally {
    await c?.closeConnection();
    for (const p of procs.reverse()) await p.stop();
    await cl?.stop();
    await s3.stop();
    await kafka.stop();
    await etcd.stop();
  }
});
