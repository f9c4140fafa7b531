// ddl_failover.test.mjs -- coord failover on etcd: two coords (one active,
// one standby) and a proxy.  When the active coord is killed (SIGKILL: its
// session lease must lapse; SIGTERM: it gives the election up at once), the
// standby takes over and DDL through the proxy succeeds again within about
// twice the session TTL, with every earlier collection still there and
// timestamps still increasing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { startCluster, startRole, waitFor } from './lib/cluster.mjs';
import { startEtcd } from './lib/servers.mjs';

const TTL_MS = 2000;
const fields = [{ name: 'id', data_type: DataType.Int64, is_primary_key: true },
  { name: 'v', data_type: DataType.FloatVector, dim: 4 }];
const ok = (res, what) => assert.equal((res.status ?? res).error_code, 'Success',
  `${what}: ${JSON.stringify(res)}`);

let etcd;
let cl;
let c;
const extra = [];

before(async () => {
  etcd = await startEtcd();
  cl = await startCluster({ etcd, coords: 2, proxies: 1, ttl: `${TTL_MS}ms` });
  c = new MilvusClient({ address: cl.address, timeout: 20000 });
  await c.connectPromise;
});

after(async () => {
  await c?.closeConnection();
  for (const h of extra) await h.stop();
  await cl?.stop();
  await etcd?.stop();
});

const isActive = (h) => /active coord at/.test(h.output());

async function failover(kill, standby, name, prevTs) {
  const t0 = Date.now();
  await kill();
  const res = await c.createCollection({ collection_name: name, fields });
  const took = Date.now() - t0;
  ok(res, `create ${name} after failover`);
  assert.ok(took < 2 * TTL_MS + 1500, `DDL came back after ${took} ms`);
  // Its log line may still be in the pipe.
  await waitFor(() => isActive(standby), 5000, standby);
  const d = await c.describeCollection({ collection_name: name });
  assert.ok(BigInt(d.created_timestamp) > prevTs, 'timestamps went back');
  return { took, ts: BigInt(d.created_timestamp) };
}

test('failover: a standby serves DDL after the active coord is SIGKILLed, then SIGTERMed', async () => {
  const [first, second] = cl.coords;
  assert.ok(isActive(first), first.output());
  assert.ok(!isActive(second), second.output());
  ok(await c.createCollection({ collection_name: 'before_kill', fields }), 'create');
  const d0 = await c.describeCollection({ collection_name: 'before_kill' });

  const r1 = await failover(async () => {
    first.proc.kill('SIGKILL');
    await first.exited;
  }, second, 'after_kill', BigInt(d0.created_timestamp));
  assert.equal((await c.hasCollection({ collection_name: 'before_kill' })).value, true);

  // A new standby; then the active one is stopped gracefully.
  const third = await startRole('coord', { etcd, ttl: `${TTL_MS}ms`, name: 'coord2' });
  extra.push(third);
  await waitFor(() => /coord serving at .*standby/.test(third.output()), 10000, third);
  const r2 = await failover(async () => {
    const exit = await second.stop();
    assert.equal(exit.code, 0, second.output());
  }, third, 'after_term', r1.ts);
  // A graceful stop hands the election over without waiting for the TTL.
  assert.ok(r2.took < TTL_MS, `graceful handover took ${r2.took} ms`);
  const names = (await c.listCollections()).data.map((x) => x.name).sort();
  assert.deepEqual(names, ['after_kill', 'after_term', 'before_kill']);
});

test('failover: a whole cluster killed with SIGKILL restarts on the same etcd with its metadata', async () => {
  const before = await c.describeCollection({ collection_name: 'after_term' });
  ok(before, 'describe before');
  await c.closeConnection();
  c = null;
  for (const h of [...cl.proxies, ...cl.coords, ...extra]) {
    if (h.running()) {
      h.proc.kill('SIGKILL');
      await h.exited;
    }
  }
  extra.length = 0;
  cl = await startCluster({ etcd, coords: 1, proxies: 1, ttl: `${TTL_MS}ms` });
  c = new MilvusClient({ address: cl.address, timeout: 20000 });
  await c.connectPromise;
  const names = (await c.listCollections()).data.map((x) => x.name).sort();
  assert.deepEqual(names, ['after_kill', 'after_term', 'before_kill']);
  const d = await c.describeCollection({ collection_name: 'after_term' });
  assert.equal(d.collectionID, before.collectionID);
  ok(await c.createCollection({ collection_name: 'after_restart', fields }), 'create after restart');
  const a = await c.describeCollection({ collection_name: 'after_restart' });
  assert.ok(BigInt(a.created_timestamp) > BigInt(before.created_timestamp));
  assert.ok(BigInt(a.collectionID) > BigInt(before.collectionID));
});
