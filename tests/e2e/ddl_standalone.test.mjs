// ddl_standalone.test.mjs -- DDL and metadata flows of the Node SDK against
// `quiver standalone` (coord and proxy in one process on LMDB).
import assert from 'node:assert/strict';
import { ddlSuite } from './lib/ddl_suite.mjs';
import { startQuiver } from './lib/servers.mjs';

ddlSuite('standalone', async () => {
  const q = await startQuiver();
  return {
    address: q.address,
    async stop() {
      const exit = await q.stop();
      assert.equal(exit.code, 0, `quiver did not exit cleanly:\n${q.output()}`);
    },
  };
});
