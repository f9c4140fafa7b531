// index_cluster.test.mjs -- index builds across processes: `quiver run
// coord`, `run proxy`, `run datanode` and two `run indexnode` on etcd, the
// Kafka test broker and s3rver.  HNSW builds (M 32, efConstruction 400) of
// two 25K x 32 segments run on one indexnode with one thread; that
// indexnode is SIGKILLed mid-build;
// once its session expires the coord reissues the build to the second
// indexnode, which finishes it: describeIndex reaches Finished with every
// row indexed, and the index file is in S3.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { startCluster, waitFor } from './lib/cluster.mjs';
import {
  HOST, freePort, quiverBin, repoRoot, spawnServer, startEtcd, startKafkaBroker, startS3rver,
} from './lib/servers.mjs';

const DIM = 32;
// The test broker keeps only the last ~5 MiB of a partition: a flush every
// FLUSH_EVERY rows (~3.7 MiB of inserts) keeps the datanode within it.
const FLUSH_EVERY = 25000;
const ROWS = Number(process.env.QV_IX_ROWS || 50000);
// QV_IX_DEBUG=<dir>: progress on stderr and every process's output in <dir>.
const log = (m) => { if (process.env.QV_IX_DEBUG) console.error(`${new Date().toISOString()} ${m}`); };
const BATCH = 2500;

const canConnect = (port) => new Promise((resolve) => {
  const s = net.connect({ port, host: HOST });
  const done = (ok) => { s.destroy(); resolve(ok); };
  s.once('connect', () => done(true));
  s.once('error', () => done(false));
  s.setTimeout(500, () => done(false));
});

async function startRoleOn(role, common, name, extra = []) {
  const port = await freePort();
  const httpPort = await freePort();
  const key = { datanode: 'dataNode', indexnode: 'indexNode', querynode: 'queryNode' }[role];
  const h = spawnServer(name, quiverBin(), ['run', role,
    '--set', `${key}.port=${port}`, '--set', `${key}.listenAddress=127.0.0.1`,
    '--set', `http.port=${httpPort}`, ...common, ...extra], { cwd: repoRoot });
  await waitFor(() => canConnect(port), 20000, h);
  return h;
}

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

test('cluster indexnode: a build whose indexnode is SIGKILLed is retried on another indexnode and finishes', { timeout: 600000 }, async () => {
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
    procs.push(await startRoleOn('datanode', common, 'datanode0'));
    const one = ['--set', 'indexNode.buildThreads=1'];
    const inA = await startRoleOn('indexnode', common, 'indexnodeA', one);
    procs.push(inA);
    c = new MilvusClient({ address: cl.address, timeout: 60000 });
    const cr = await c.createCollection({
      collection_name: 'big', shards_num: 1,
      fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: DIM },
      ],
    });
    assert.equal(cr.error_code, 'Success', cr.reason);
    const r = rng(3);
    for (let start = 0; start < ROWS; start += BATCH) {
      const data = Array.from({ length: BATCH }, (_, i) => ({
        id: start + i, v: Array.from({ length: DIM }, () => r()),
      }));
      const ins = await c.insert({ collection_name: 'big', data });
      assert.equal(ins.status.error_code, 'Success', ins.status.reason);
      if ((start + BATCH) % FLUSH_EVERY === 0) {
        const f = await c.flushSync({ collection_names: ['big'] });
        assert.equal(f.status.error_code, 'Success', f.status.reason);
      }
    }
    log('inserted');
    const fl = await c.flushSync({ collection_names: ['big'] });
    assert.equal(fl.status.error_code, 'Success', fl.status.reason);

    log('flushed');
    const ix = await c.createIndex({
      collection_name: 'big', field_name: 'v', index_type: 'HNSW', metric_type: 'L2',
      params: { M: 32, efConstruction: 400 },
    });
    assert.equal(ix.error_code, 'Success', ix.reason);
    // The build starts on A (the only indexnode); kill A mid-build.
    await waitFor(() => /build \d+ of segment \d+ started/.test(inA.output()), 60000, inA);
    log('build started on A');
    const inB = await startRoleOn('indexnode', common, 'indexnodeB', one);
    procs.push(inB);
    assert.doesNotMatch(inA.output(), /build \d+ finished/, 'the build ended before the kill');
    inA.proc.kill('SIGKILL');
    assert.equal((await inA.exited).signal, 'SIGKILL');

    log('A killed');
    let d;
    await waitFor(async () => {
      const res = await c.describeIndex({ collection_name: 'big', field_name: 'v' });
      assert.equal(res.status.error_code, 'Success', res.status.reason);
      d = res.index_descriptions[0];
      return d.state === 'Finished' || d.state === 'Failed';
    }, Number(process.env.QV_IX_WAIT || 300000), { output: () => `${cl.coords[0].output()}\n--- B:\n${inB.output()}` });
    assert.equal(d.state, 'Finished', d.index_state_fail_reason);
    assert.equal(Number(d.indexed_rows), ROWS);
    assert.equal(Number(d.total_rows), ROWS);
    const coordOut = cl.coords[0].output();
    assert.match(coordOut, /build \d+ will be retried: indexnode \S+indexnode-\d+ is gone/);
    assert.match(inB.output(), /build \d+ finished/);
    const m = /build (\d+) of segment (\d+) finished on \S+: (\d+) bytes/.exec(coordOut);
    assert.ok(m, coordOut);
    const obj = await fetch(`${s3.endpoint}/quiver/index_files/${m[1]}/${m[2]}/index`);
    const body = Buffer.from(await obj.arrayBuffer());
    assert.equal(obj.status, 200);
    assert.equal(body.length, Number(m[3]));
    assert.equal(body.subarray(0, 4).toString('latin1'), 'QVIX');
  } finally {
    if (process.env.QV_IX_DEBUG) {
      const fs = await import('node:fs');
      for (const h of [...procs, ...(cl ? [...cl.coords, ...cl.proxies] : [])]) {
        fs.writeFileSync(`${process.env.QV_IX_DEBUG}/${h.name}.log`, h.output());
      }
      log('logs written');
    }
    await c?.closeConnection();
    for (const h of procs.reverse()) await h.stop();
    await cl?.stop();
    await s3.stop();
    await kafka.stop();
    await etcd.stop();
  }
});
