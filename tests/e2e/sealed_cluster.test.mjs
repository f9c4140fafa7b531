// sealed_cluster.test.mjs -- sealed segments across processes: `quiver run
// coord`, `run proxy`, `run datanode` and `run querynode` on etcd, the
// Kafka test broker and s3rver.  Flushed segments are loaded from S3 by the
// query node; when it is SIGKILLed another one takes over, starting at the
// channel checkpoints with the flushed segments loaded: counts, query
// results and search results (against a brute force computed here) are
// the same, and it replays fewer rows from the log than the collection
// holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ConsistencyLevelEnum, DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { startCluster, waitFor } from './lib/cluster.mjs';
import {
  HOST, freePort, quiverBin, repoRoot, spawnServer, startEtcd, startKafkaBroker, startS3rver,
} from './lib/servers.mjs';

const STRONG = ConsistencyLevelEnum.Strong;
const DIM = 8;
const vec = (id) => Array.from({ length: DIM }, (_, d) => ((id * 37 + d * 11) % 97) / 8);
const QUERY = Array.from({ length: DIM }, (_, d) => (d * 13 % 29) / 4);

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
  h.httpPort = httpPort;
  return h;
}

async function metric(h, name) {
  try {
    const txt = await (await fetch(`http://127.0.0.1:${h.httpPort}/metrics`)).text();
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(txt);
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

function l2(a, b) {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.fround(a[i]) - Math.fround(b[i]);
    s += d * d;
  }
  return s;
}

test('cluster: a query node loads flushed segments from S3; its replacement starts at the checkpoint', { timeout: 240000 }, async () => {
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
      '--set', `s3.accessKey=${s3.accessKeyId}`, '--set', `s3.secretKey=${s3.secretAccessKey}`];
    cl = await startCluster({ etcd, ttl: '2s', extraArgs: common.slice(4) });
    let qn = await startRoleOn('querynode', common, 'querynode0');
    procs.push(qn);
    procs.push(await startRoleOn('datanode', common, 'datanode0'));
    c = new MilvusClient({ address: cl.address, timeout: 30000 });
    const name = 'sealedcl';
    assert.equal((await c.createCollection({
      collection_name: name, shards_num: 2,
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: DIM },
        { name: 'tag', data_type: DataType.VarChar, max_length: 16 },
      ],
    })).error_code, 'Success');
    for (let b = 0; b < 5; b++) {
      const data = Array.from({ length: 200 }, (_, i) => ({ id: b * 200 + i, v: vec(b * 200 + i), tag: `t${i % 5}` }));
      assert.equal((await c.insert({ collection_name: name, data })).status.error_code, 'Success');
    }
    await c.delete({ collection_name: name, filter: 'id in [10, 11, 12]' });
    const fl = await c.flushSync({ collection_names: [name] });
    assert.equal(fl.status.error_code, 'Success', fl.status.reason);
    // rows after the flush live in the log only
    const tail = Array.from({ length: 25 }, (_, i) => ({ id: 9000 + i, v: vec(9000 + i), tag: 'tail' }));
    assert.equal((await c.insert({ collection_name: name, data: tail })).status.error_code, 'Success');
    assert.equal((await c.loadCollectionSync({ collection_name: name })).error_code, 'Success');
    const ids = [...Array(1000).keys()].filter((i) => i < 10 || i > 12).concat(tail.map((x) => x.id));
    await waitFor(async () => (await metric(qn, 'quiver_querynode_sealed_rows')) === 1000, 30000, qn);

    const want = ids.map((id) => [l2(vec(id), QUERY), id]).sort((x, y) => x[0] - y[0] || x[1] - y[1]).slice(0, 10);
    const check = async () => {
      const cnt = await c.count({ collection_name: name, consistency_level: STRONG });
      assert.equal(Number(cnt.data), ids.length);
      const s = await c.search({
        collection_name: name, data: [QUERY], limit: 10, metric_type: 'L2', consistency_level: STRONG,
      });
      assert.equal(s.status.error_code, 'Success', s.status.reason);
      for (let i = 0; i < 10; i++)
        assert.ok(Math.abs(s.results[i].score - want[i][0]) <= 1e-3 * Math.max(1, want[i][0]), `rank ${i}`);
      const cut = want[9][0];
      const strict = (l) => l.filter(([d]) => d < cut - 1e-3).map(([, id]) => id).sort((a, b) => a - b);
      assert.deepEqual(strict(s.results.map((h) => [h.score, Number(h.id)])), strict(want));
      const q = await c.query({
        collection_name: name, filter: 'id >= 0', output_fields: ['id', 'v', 'tag'],
        limit: 5000, consistency_level: STRONG,
      });
      assert.equal(q.status.error_code, 'Success', q.status.reason);
      return q.data;
    };
    const before = await check();
    assert.deepEqual(before.map((x) => Number(x.id)), ids);

    qn.proc.kill('SIGKILL');
    assert.equal((await qn.exited).signal, 'SIGKILL');
    qn = await startRoleOn('querynode', common, 'querynode1');
    procs.push(qn);
    await waitFor(async () => {
      try {
        const r = await c.count({ collection_name: name, consistency_level: STRONG });
        return r.status?.error_code === 'Success' && Number(r.data) === ids.length;
      } catch {
        return false;
      }
    }, 30000, qn);
    const after = await check();
    assert.deepEqual(after, before, 'query results byte-exact after the replacement');
    await waitFor(async () => (await metric(qn, 'quiver_querynode_sealed_rows')) === 1000, 30000, qn);
    const replayed = await metric(qn, 'quiver_querynode_log_rows');
    assert.ok(replayed < ids.length, `replayed ${replayed} of ${ids.length} rows`);
    assert.match(qn.output(), /starts at checkpoint position \d+ with \d+ sealed segment/);
    const p = await c.getLoadingProgress({ collection_name: name });
    assert.equal(Number(p.progress), 100);
    console.log(`# replacement query node replayed ${replayed} rows; ${ids.length} in the collection`);
  } finally {
    await c?.closeConnection();
    for (const p of procs.reverse()) await p.stop();
    await cl?.stop();
    await s3.stop();
    await kafka.stop();
    await etcd.stop();
  }
});
