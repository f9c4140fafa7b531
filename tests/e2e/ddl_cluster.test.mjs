// ddl_cluster.test.mjs -- the DDL and metadata flows of the Node SDK
// against a two-process deployment: `quiver run coord` and `quiver run
// proxy` on a real etcd.
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
      await cl.stop();
      await etcd.stop();
    },
  };
});
