// ddl_cluster.test.mjs -- the DDL and metadata flows of the Node SDK
// against a two-process deployment: `quiver run coord` and `quiver run
// proxy` on a real etcd.
import assert from 'node:assert/strict';
import { startCluster } from './lib/cluster.mjs';
import { ddlSuite } from './lib/ddl_suite.mjs';
import { startEtcd } from './lib/servers.mjs';

ddlSuite('cluster', async () => {
  const etcd = await startEtcd();
  let cl;
  try {
    cl = await startCluster({ etcd, coords: 1, proxies: 1 });
  } catch (e) {
    await etcd.stop();
    throw e;
  }
  return {
    address: cl.address,
    async stop() {
      const exits = await cl.stop();
      await etcd.stop();
      for (const e of exits) assert.equal(e.code, 0, `${e.name} did not exit cleanly:\n${e.output}`);
    },
  };
});
