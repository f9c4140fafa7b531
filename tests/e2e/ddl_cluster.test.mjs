// ddl_cluster.test.mjs -- the DDL and metadata flows of the Node SDK
// against a two-process deployment: `quiver run coord` and `quiver run
// proxy` on a real etcd.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { startCluster } from './lib/cluster.mjs';
import { ddlSuite } from './lib/ddl_suite.mjs';
import { quiverBin, startEtcd } from './lib/servers.mjs';

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

test('cluster: run coord and run proxy refuse the local meta KV with one clear line', () => {
  for (const role of ['coord', 'proxy']) {
    const r = spawnSync(quiverBin(), ['run', role, '--set', 'coord.port=0', '--set', 'proxy.port=0',
      '--set', 'http.port=0'], { encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('quiver:'));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /metakv\.backend 'local' works only for quiver standalone; set metakv\.backend=etcd/);
  }
});
