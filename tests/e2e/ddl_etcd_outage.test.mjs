// ddl_etcd_outage.test.mjs -- DESIGN §8 for metadata: while etcd does not
// answer (frozen with SIGSTOP), DDL fails with a clear error within the
// meta KV timeout instead of hanging, described collections are still
// answered from the proxy's cache, and once etcd is back DDL works again
// with nothing lost.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { startCluster } from './lib/cluster.mjs';
import { startEtcd } from './lib/servers.mjs';

const fields = [{ name: 'id', data_type: DataType.Int64, is_primary_key: true },
  { name: 'v', data_type: DataType.FloatVector, dim: 4 }];
const ok = (res, what) => assert.equal((res.status ?? res).error_code, 'Success',
  `${what}: ${JSON.stringify(res)}`);

let etcd;
let cl;
let c;

before(async () => {
  etcd = await startEtcd();
  cl = await startCluster({ etcd, extraArgs: ['--set', 'metakv.timeout=1500ms'] });
  c = new MilvusClient({ address: cl.address, timeout: 20000 });
  await c.connectPromise;
});

after(async () => {
  await c?.closeConnection();
  if (etcd?.server.running()) etcd.server.proc.kill('SIGCONT');
  await cl?.stop();
  await etcd?.stop();
});

test('etcd outage: DDL fails clearly, cached describes still answer, DDL recovers', async () => {
  ok(await c.createCollection({ collection_name: 'steady', fields }), 'create');
  // The proxy's watch clears its cache when it sees the create; let that
  // pass before filling the cache.
  await new Promise((r) => setTimeout(r, 1000));
  ok(await c.describeCollection({ collection_name: 'steady' }), 'describe (fills the cache)');
  etcd.server.proc.kill('SIGSTOP');
  try {
    const t0 = Date.now();
    let res;
    try {
      res = await c.createCollection({ collection_name: 'during', fields });
    } catch (e) {
      res = e; // the schema form throws the failing Status
    }
    const took = Date.now() - t0;
    assert.notEqual(res.error_code, 'Success', JSON.stringify(res));
    assert.match(res.reason, /etcd|127\.0\.0\.1:\d+|timed out|unavailable/i);
    assert.ok(took < 10000, `failing took ${took} ms`);
    const d = await c.describeCollection({ collection_name: 'steady' });
    ok(d, 'cached describe during the outage');
  } finally {
    etcd.server.proc.kill('SIGCONT');
  }
  // Back: DDL works again (the first calls may still see the outage).
  let res;
  for (let i = 0; i < 50; i++) {
    try {
      res = await c.createCollection({ collection_name: 'after_outage', fields });
    } catch (e) {
      res = e;
    }
    if (res.error_code === 'Success' || /already exists/.test(res.reason)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(res.error_code === 'Success' || /already exists/.test(res.reason), JSON.stringify(res));
  const names = (await c.listCollections()).data.map((x) => x.name).sort();
  assert.ok(names.includes('steady') && names.includes('after_outage'), names.join());
});
