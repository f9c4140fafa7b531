// ddl_persist.test.mjs -- metadata survives a restart of `quiver
// standalone` after SIGTERM and after SIGKILL, and timestamps handed out
// after the restart are above every timestamp handed out before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { startQuiver } from './lib/servers.mjs';

const ok = (res, what) => assert.equal((res.status ?? res).error_code, 'Success',
  `${what}: ${JSON.stringify(res)}`);
const fields = (dim) => [{ name: 'id', data_type: DataType.Int64, is_primary_key: true },
  { name: 'v', data_type: DataType.FloatVector, dim }];

async function withClient(address, fn) {
  const c = new MilvusClient({ address, timeout: 15000 });
  try {
    await c.connectPromise;
    return await fn(c);
  } finally {
    await c.closeConnection();
  }
}

/** Every timestamp the deployment reports for db/collections/partitions. */
async function timestamps(c, db) {
  const ts = [];
  for (const dbn of ['default', db]) {
    const cols = await c.showCollections({ db_name: dbn });
    ok(cols, 'show');
    for (let i = 0; i < cols.collection_names.length; i++) {
      const name = cols.collection_names[i];
      const d = await c.describeCollection({ db_name: dbn, collection_name: name });
      ts.push(BigInt(d.created_timestamp), BigInt(d.update_timestamp));
      const p = await c.showPartitions({ db_name: dbn, collection_name: name });
      ts.push(...p.created_timestamps.map(BigInt));
    }
  }
  const dbs = await c.listDatabases();
  ts.push(...dbs.created_timestamp.map(BigInt));
  return ts;
}

for (const signal of ['SIGTERM', 'SIGKILL']) {
  test(`persist: metadata survives ${signal} and the TSO never goes back`, async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-persist-'));
    const db = `db_${signal.toLowerCase()}`;
    let q;
    try {
      q = await startQuiver({ dataDir });
      const before = await withClient(q.address, async (c) => {
        ok(await c.createDatabase({ db_name: db, properties: { 'database.max.collections': 5 } }), 'db');
        ok(await c.createCollection({ collection_name: 'kept', fields: fields(8),
          properties: { 'collection.ttl.seconds': 100 } }), 'kept');
        ok(await c.createCollection({ db_name: db, collection_name: 'other', fields: fields(4) }), 'other');
        ok(await c.createPartition({ collection_name: 'kept', partition_name: 'p1' }), 'p1');
        ok(await c.createAlias({ collection_name: 'kept', alias: 'kept_alias' }), 'alias');
        ok(await c.createCollection({ collection_name: 'dropped', fields: fields(4) }), 'dropped');
        ok(await c.dropCollection({ collection_name: 'dropped' }), 'drop');
        return { ts: await timestamps(c, db),
          id: (await c.describeCollection({ collection_name: 'kept' })).collectionID };
      });
      if (signal === 'SIGKILL') {
        q.server.proc.kill('SIGKILL');
        const exit = await q.server.exited;
        assert.equal(exit.signal, 'SIGKILL');
      } else {
        const exit = await q.stop();
        assert.equal(exit.code, 0, q.output());
      }

      q = await startQuiver({ dataDir });
      await withClient(q.address, async (c) => {
        assert.ok((await c.listDatabases()).db_names.includes(db));
        const dd = await c.describeDatabase({ db_name: db });
        assert.deepEqual(dd.properties, [{ key: 'database.max.collections', value: '5' }]);
        const d = await c.describeCollection({ collection_name: 'kept_alias' });
        ok(d, 'describe via alias after restart');
        assert.equal(d.collection_name, 'kept');
        assert.equal(d.collectionID, before.id);
        assert.equal(d.schema.fields[1].dim, '8');
        assert.deepEqual(d.properties, [{ key: 'collection.ttl.seconds', value: '100' }]);
        assert.deepEqual((await c.listPartitions({ collection_name: 'kept' })).partition_names,
          ['_default', 'p1']);
        assert.equal((await c.hasCollection({ db_name: db, collection_name: 'other' })).value, true);
        assert.equal((await c.hasCollection({ collection_name: 'dropped' })).value, false);

        ok(await c.createCollection({ collection_name: 'after', fields: fields(4) }), 'after');
        const a = await c.describeCollection({ collection_name: 'after' });
        const newest = BigInt(a.created_timestamp);
        const maxBefore = before.ts.reduce((m, x) => (x > m ? x : m), 0n);
        assert.ok(newest > maxBefore, `TSO went back: ${newest} <= ${maxBefore}`);
        assert.ok(BigInt(a.collectionID) > BigInt(before.id));
      });
      const exit = await q.stop();
      assert.equal(exit.code, 0, q.output());
    } finally {
      await q?.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
}
