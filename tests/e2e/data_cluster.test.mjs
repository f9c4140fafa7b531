// data_cluster.test.mjs -- the data path across processes: `quiver run
// coord`, `run proxy` and `run querynode` on etcd and the Kafka test
// broker.  Insert, load, count, search and query through the proxy; a
// SIGKILLed query node is replaced by a new one that rebuilds its shards
// from the log, with the same answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ConsistencyLevelEnum, DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { startCluster, waitFor } from './lib/cluster.mjs';
import {
  HOST, freePort, quiverBin, repoRoot, spawnServer, startEtcd, startKafkaBroker,
} from './lib/servers.mjs';

const STRONG = ConsistencyLevelEnum.Strong;

const canConnect = (port) => new Promise((resolve) => {
  const s = net.connect({ port, host: HOST });
  const done = (ok) => { s.destroy(); resolve(ok); };
  s.once('connect', () => done(true));
  s.once('error', () => done(false));
  s.setTimeout(500, () => done(false));
});

async function startQueryNode(etcd, kafka, name) {
  const port = await freePort();
  const httpPort = await freePort();
  const h = spawnServer(name, quiverBin(), ['run', 'querynode',
    '--set', `queryNode.port=${port}`, '--set', 'queryNode.listenAddress=127.0.0.1',
    '--set', `http.port=${httpPort}`, '--set', 'metakv.backend=etcd',
    '--set', `etcd.endpoints=${etcd.endpoint}`, '--set', 'session.ttl=2s',
    '--set', 'wal.backend=kafka', '--set', `kafka.brokers=${kafka.bootstrap}`], { cwd: repoRoot });
  await waitFor(() => canConnect(port), 20000, h);
  return h;
}

test('cluster: insert, load, search and query across processes; a query node is replaced', async () => {
  const etcd = await startEtcd();
  const kafka = await startKafkaBroker();
  let cl;
  let qn;
  let qn2;
  let c;
  try {
    const wal = ['--set', 'wal.backend=kafka', '--set', `kafka.brokers=${kafka.bootstrap}`];
    cl = await startCluster({ etcd, ttl: '2s', extraArgs: wal });
    qn = await startQueryNode(etcd, kafka, 'querynode0');
    c = new MilvusClient({ address: cl.address, timeout: 20000 });
    const cr = await c.createCollection({
      collection_name: 'cl', shards_num: 2,
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: 4 },
        { name: 'name', data_type: DataType.VarChar, max_length: 20 },
      ],
    });
    assert.equal(cr.error_code, 'Success', cr.reason);
    const data = Array.from({ length: 200 }, (_, i) => ({ id: i, v: [i, 0, 1, 0], name: `n${i}` }));
    const ins = await c.insert({ collection_name: 'cl', data });
    assert.equal(ins.status.error_code, 'Success', ins.status.reason);
    assert.equal((await c.loadCollectionSync({ collection_name: 'cl' })).error_code, 'Success');
    const check = async () => {
      const cnt = await c.count({ collection_name: 'cl', consistency_level: STRONG });
      assert.equal(Number(cnt.data), 200);
      const s = await c.search({
        collection_name: 'cl', data: [[41.2, 0, 1, 0]], limit: 3, metric_type: 'L2',
        output_fields: ['name'], consistency_level: STRONG,
      });
      assert.equal(s.status.error_code, 'Success', s.status.reason);
      assert.deepEqual(s.results.map((h) => Number(h.id)), [41, 42, 40]);
      assert.equal(s.results[0].name, 'n41');
      const q = await c.query({
        collection_name: 'cl', filter: 'id >= 195', output_fields: ['name'], consistency_level: STRONG,
      });
      assert.deepEqual(q.data.map((x) => x.name), ['n195', 'n196', 'n197', 'n198', 'n199']);
    };
    await check();
    qn.proc.kill('SIGKILL');
    await qn.exited;
    qn = await startQueryNode(etcd, kafka, 'querynode1');
    // the coord notices the dead session (TTL 2 s) and re-assigns the shards
    // (a failed count makes the SDK throw: retry)
    await waitFor(async () => {
      try {
        const r = await c.count({ collection_name: 'cl', consistency_level: STRONG });
        return r.status?.error_code === 'Success' && Number(r.data) === 200;
      } catch {
        return false;
      }
    }, 20000, qn);
    await check();
    // a second query node takes the next collection (the least loaded node)
    qn2 = await startQueryNode(etcd, kafka, 'querynode2');
    assert.equal((await c.createCollection({
      collection_name: 'cl2',
      fields: [{ name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: 2 }],
    })).error_code, 'Success');
    assert.equal((await c.insert({ collection_name: 'cl2', data: [{ id: 1, v: [1, 2] }] })).status.error_code, 'Success');
    assert.equal((await c.loadCollectionSync({ collection_name: 'cl2' })).error_code, 'Success');
    const served = [...cl.coords[0].output().matchAll(/collection (\w+) \(\d+\) served by (\S+)/g)]
      .map((m) => [m[1], m[2]]);
    const last = new Map(served);
    assert.notEqual(last.get('cl'), last.get('cl2'), JSON.stringify(served));
    const n2 = await c.count({ collection_name: 'cl2', consistency_level: STRONG });
    assert.equal(Number(n2.data), 1);
  } finally {
    await c?.closeConnection();
    await qn?.stop();
    await qn2?.stop();
    await cl?.stop();
    await kafka.stop();
    await etcd.stop();
  }
});
