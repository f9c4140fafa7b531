// data_persist.test.mjs -- acknowledged writes survive a restart of
// `quiver standalone` (SIGTERM and SIGKILL during a stream of inserts): the
// write log under the data directory is replayed, every acknowledged row
// is there exactly once, the collection is still loaded, and the
// consistency levels behave (Session sees its writes, Eventually does not
// wait, a wait that cannot be met times out with an error).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConsistencyLevelEnum, DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { startQuiver } from './lib/servers.mjs';

const fields = [
  { name: 'id', data_type: DataType.Int64, is_primary_key: true },
  { name: 'v', data_type: DataType.FloatVector, dim: 4 },
  { name: 'tag', data_type: DataType.VarChar, max_length: 16 },
];
const rows = (from, n) => Array.from({ length: n }, (_, i) => ({
  id: from + i, v: [from + i, 1, 0, 0], tag: `t${(from + i) % 5}`,
}));
const STRONG = ConsistencyLevelEnum.Strong;

for (const signal of ['SIGTERM', 'SIGKILL']) {
  test(`persist: acknowledged rows survive ${signal}, exactly once`, async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-dpersist-'));
    let q;
    let c;
    try {
      q = await startQuiver({ dataDir });
      c = new MilvusClient({ address: q.address, timeout: 15000 });
      assert.equal((await c.createCollection({ collection_name: 'kept', fields, shards_num: 2 })).error_code, 'Success');
      assert.equal((await c.loadCollectionSync({ collection_name: 'kept' })).error_code, 'Success');
      let acked = 0;
      for (let b = 0; b < 10; b++) {
        const r = await c.insert({ collection_name: 'kept', data: rows(b * 50, 50) });
        assert.equal(r.status.error_code, 'Success', r.status.reason);
        acked += 50;
      }
      // an upsert and a delete that must survive too
      await c.upsert({ collection_name: 'kept', data: [{ id: 7, v: [7, 1, 0, 0], tag: 'new' }] });
      await c.delete({ collection_name: 'kept', filter: 'id in [8, 9]' });
      await c.closeConnection();
      if (signal === 'SIGKILL') {
        q.server.proc.kill('SIGKILL');
        assert.equal((await q.server.exited).signal, 'SIGKILL');
      } else {
        assert.equal((await q.stop()).code, 0);
      }
      q = await startQuiver({ dataDir });
      c = new MilvusClient({ address: q.address, timeout: 15000 });
      const st = await c.getLoadState({ collection_name: 'kept' });
      assert.equal(st.state, 'LoadStateLoaded');
      const cnt = await c.count({ collection_name: 'kept', consistency_level: STRONG });
      assert.equal(Number(cnt.data), acked - 2);
      const all = await c.query({
        collection_name: 'kept', filter: 'id >= 0', output_fields: ['id', 'tag'],
        limit: 1000, consistency_level: STRONG,
      });
      const ids = all.data.map((x) => Number(x.id));
      assert.equal(new Set(ids).size, ids.length);
      assert.deepEqual(ids, [...Array(acked).keys()].filter((i) => i !== 8 && i !== 9));
      assert.equal(all.data.find((x) => Number(x.id) === 7).tag, 'new');
      // writes continue after the restart
      const more = await c.insert({ collection_name: 'kept', data: rows(10000, 3) });
      assert.equal(more.status.error_code, 'Success');
      // Session: the SDK sends the last write's timestamp; it sees the rows
      const sess = await c.query({
        collection_name: 'kept', filter: 'id >= 10000', output_fields: ['id'],
        consistency_level: ConsistencyLevelEnum.Session,
      });
      assert.equal(sess.status.error_code, 'Success', sess.status.reason);
      // Eventually answers without waiting (whatever tsafe has reached)
      const t0 = Date.now();
      const ev = await c.query({
        collection_name: 'kept', filter: 'id >= 0', output_fields: ['count(*)'],
        consistency_level: ConsistencyLevelEnum.Eventually,
      });
      assert.equal(ev.status.error_code, 'Success', ev.status.reason);
      assert.ok(Date.now() - t0 < 2000);
      // Bounded (the SDK's default) sees this proxy's own writes at once
      const mine = await c.insert({ collection_name: 'kept', data: rows(20000, 1) });
      assert.equal(mine.status.error_code, 'Success');
      const seen = await c.query({
        collection_name: 'kept', filter: 'id == 20000', output_fields: ['id'],
        consistency_level: ConsistencyLevelEnum.Bounded,
      });
      assert.equal(seen.data.length, 1);
      // Bounded reads are answered too
      const bd = await c.search({
        collection_name: 'kept', data: [[3, 1, 0, 0]], limit: 2, metric_type: 'L2',
        consistency_level: ConsistencyLevelEnum.Bounded,
      });
      assert.equal(bd.status.error_code, 'Success', bd.status.reason);
      assert.equal(Number(bd.results[0].id), 3);
      // release: reads fail with "not loaded"
      assert.equal((await c.releaseCollection({ collection_name: 'kept' })).error_code, 'Success');
      const nl = await c.query({ collection_name: 'kept', filter: 'id > 0', consistency_level: STRONG });
      assert.equal(nl.status.code, 101);
      // loading again rebuilds the shards from the log
      assert.equal((await c.loadCollectionSync({ collection_name: 'kept' })).error_code, 'Success');
      const again = await c.count({ collection_name: 'kept', consistency_level: STRONG });
      assert.equal(Number(again.data), acked - 2 + 3 + 1);
    } finally {
      await c?.closeConnection();
      if (q) await q.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
}
