// ddl_suite.mjs -- the DDL and metadata flows of the Milvus Node SDK
// against one deployment (standalone or cluster): databases, collections,
// partitions, aliases, their errors, and describe round trips of every
// field type and property.  ddl_standalone.test.mjs and
// ddl_cluster.test.mjs run it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DataType, MilvusClient } from '@zilliz/milvus2-sdk-node';

const ok = (res, what) => {
  const st = res.status ?? res;
  assert.equal(st.error_code, 'Success', `${what}: ${JSON.stringify(st)}`);
};

/** Asserts a failed Status whose reason matches re (and code, if given). */
function failed(res, re, code) {
  const st = res.status ?? res;
  assert.notEqual(st.error_code, 'Success', `expected a failure, got ${JSON.stringify(res)}`);
  assert.match(st.reason, re);
  if (code !== undefined) assert.equal(st.code, code, JSON.stringify(st));
}

/** createCollection's schema form throws the failing Status (sdk-compat
 *  §3); either way it must be the server's Status with a reason matching re. */
async function rejected(promise, re, code) {
  let res;
  try {
    res = await promise;
  } catch (e) {
    assert.ok(e && e.error_code !== undefined && e.code !== undefined,
      `not a server Status: ${e?.stack ?? JSON.stringify(e)}`);
    res = e;
  }
  failed(res, re, code);
}

const SCALARS = [
  { name: 'id', data_type: DataType.Int64, is_primary_key: true, autoID: true, description: 'the key' },
  { name: 'b', data_type: DataType.Bool },
  { name: 'i8', data_type: DataType.Int8, nullable: true },
  { name: 'i16', data_type: DataType.Int16, default_value: 7 },
  { name: 'i32', data_type: DataType.Int32 },
  { name: 'f', data_type: DataType.Float, default_value: 1.5 },
  { name: 'd', data_type: DataType.Double },
  { name: 's', data_type: DataType.VarChar, max_length: 64, default_value: 'x' },
  { name: 'j', data_type: DataType.JSON, nullable: true },
  { name: 'arr', data_type: DataType.Array, element_type: DataType.Int32, max_capacity: 12 },
  { name: 'arrs', data_type: DataType.Array, element_type: DataType.VarChar, max_capacity: 4, max_length: 16 },
];
const VECTORS_A = [
  { name: 'fv', data_type: DataType.FloatVector, dim: 8 },
  { name: 'bv', data_type: DataType.BinaryVector, dim: 16 },
  { name: 'f16', data_type: DataType.Float16Vector, dim: 4 },
  { name: 'bf16', data_type: DataType.BFloat16Vector, dim: 4 },
];
const VECTORS_B = [
  { name: 'sv', data_type: DataType.SparseFloatVector },
  { name: 'i8v', data_type: DataType.Int8Vector, dim: 32 },
];

const uniq = (() => { let n = 0; return (p) => `${p}_${process.pid}_${++n}`; })();

/**
 * Registers the suite.  start() resolves to { address, stop() }.
 */
export function ddlSuite(label, start) {
  let dep;
  let c;

  before(async () => {
    dep = await start();
    c = new MilvusClient({ address: dep.address, timeout: 15000 });
    await c.connectPromise;
  });
  after(async () => {
    await c?.closeConnection();
    await dep?.stop();
  });

  const t = (name, fn) => test(`${label}: ${name}`, fn);

  t('describe round-trips every field type and property', async () => {
    const name = uniq('alltypes');
    ok(await c.createCollection({
      collection_name: name, description: 'all the types',
      fields: [...SCALARS, ...VECTORS_A], enable_dynamic_field: true,
      consistency_level: 'Strong', shards_num: 2,
      properties: { 'collection.ttl.seconds': 3600, 'mmap.enabled': true },
    }), 'create');
    const d = await c.describeCollection({ collection_name: name });
    ok(d, 'describe');
    assert.equal(d.collection_name, name);
    assert.equal(d.db_name, 'default');
    assert.equal(d.schema.name, name);
    assert.equal(d.schema.description, 'all the types');
    assert.equal(d.schema.enable_dynamic_field, true);
    assert.equal(d.consistency_level, 'Strong');
    assert.equal(d.shards_num, 2);
    assert.equal(d.virtual_channel_names.length, 2);
    assert.equal(d.physical_channel_names.length, 2);
    assert.match(d.collectionID, /^[1-9]\d*$/);
    assert.ok(BigInt(d.created_timestamp) > 0n);
    assert.equal(d.update_timestamp_str, d.update_timestamp);
    const props = Object.fromEntries(d.properties.map((p) => [p.key, p.value]));
    assert.equal(props['collection.ttl.seconds'], '3600');
    assert.equal(props['mmap.enabled'], 'true');
    // Declaration order, no $meta, IDs from 100.
    const fields = d.schema.fields;
    assert.deepEqual(fields.map((f) => f.name), [...SCALARS, ...VECTORS_A].map((f) => f.name));
    fields.forEach((f, i) => assert.equal(f.fieldID, String(100 + i)));
    const by = Object.fromEntries(fields.map((f) => [f.name, f]));
    assert.equal(by.id.is_primary_key, true);
    assert.equal(by.id.autoID, true);
    assert.equal(by.id.description, 'the key');
    for (const f of [...SCALARS, ...VECTORS_A]) {
      assert.equal(by[f.name].data_type, DataType[f.data_type], f.name);
    }
    assert.equal(by.i8.nullable, true);
    assert.equal(by.i16.default_value, 7);
    assert.equal(by.f.default_value, 1.5);
    assert.equal(by.s.default_value, 'x');
    assert.equal(by.s.max_length, '64');
    assert.equal(by.arr.element_type, 'Int32');
    assert.equal(by.arr.max_capacity, '12');
    assert.equal(by.arrs.element_type, 'VarChar');
    assert.equal(by.arrs.max_length, '16');
    assert.equal(by.fv.dim, '8');
    assert.equal(by.bv.dim, '16');
    assert.equal(by.f16.dim, '4');
    assert.equal(by.bf16.dim, '4');

    const name2 = uniq('sparse');
    ok(await c.createCollection({
      collection_name: name2,
      fields: [{ name: 'pk', data_type: DataType.VarChar, is_primary_key: true, max_length: 32 },
        { name: 'tenant', data_type: DataType.Int64, is_partition_key: true }, ...VECTORS_B],
      num_partitions: 4, consistency_level: 'Eventually',
    }), 'create sparse');
    const d2 = await c.describeCollection({ collection_name: name2 });
    ok(d2, 'describe sparse');
    assert.equal(d2.consistency_level, 'Eventually');
    assert.equal(d2.num_partitions, '4');
    assert.equal(d2.schema.enable_dynamic_field, false);
    const by2 = Object.fromEntries(d2.schema.fields.map((f) => [f.name, f]));
    assert.equal(by2.pk.data_type, 'VarChar');
    assert.equal(by2.pk.max_length, '32');
    assert.equal(by2.tenant.is_partition_key, true);
    assert.equal(by2.sv.data_type, 'SparseFloatVector');
    assert.equal(by2.i8v.data_type, 'Int8Vector');
    assert.equal(by2.i8v.dim, '32');
    const parts = await c.listPartitions({ collection_name: name2 });
    ok(parts, 'partitions of a partition-key collection');
    assert.equal(parts.partition_names.length, 4);
  });

  t('hasCollection, describe of a missing collection, duplicates', async () => {
    const name = uniq('dup');
    const missing = await c.hasCollection({ collection_name: name });
    ok(missing, 'has');
    assert.equal(missing.value, false);
    const d = await c.describeCollection({ collection_name: name });
    assert.equal(d.status.error_code, 'CollectionNotExists');
    assert.equal(d.status.code, 100);
    assert.match(d.status.reason, new RegExp(`collection '${name}' not found`));
    const fields = [{ name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'v', data_type: DataType.FloatVector, dim: 4 }];
    ok(await c.createCollection({ collection_name: name, fields }), 'create');
    assert.equal((await c.hasCollection({ collection_name: name })).value, true);
    await rejected(c.createCollection({ collection_name: name, fields }), /already exists/);
    const list = await c.listCollections();
    ok(list, 'list');
    assert.ok(list.data.some((x) => x.name === name));
    const named = await c.showCollections({ collection_names: [name] });
    ok(named, 'show named');
    assert.deepEqual(named.data.map((x) => x.name), [name]);
    failed(await c.showCollections({ collection_names: [name, uniq('nope')] }), /not found/, 100);
    const stats = await c.getCollectionStatistics({ collection_name: name });
    ok(stats, 'stats');
    assert.equal(stats.data.row_count, '0');
    failed(await c.getCollectionStatistics({ collection_name: uniq('nope') }), /not found/, 100);
    ok(await c.dropCollection({ collection_name: name }), 'drop');
    assert.equal((await c.hasCollection({ collection_name: name })).value, false);
    failed(await c.dropCollection({ collection_name: name }), /not found/, 100);
  });

  t('invalid schemas are rejected with specific reasons', async () => {
    const pk = { name: 'id', data_type: DataType.Int64, is_primary_key: true };
    const vec = { name: 'v', data_type: DataType.FloatVector, dim: 4 };
    const cases = [
      [[pk, { ...vec, dim: -1 }], /field 'v': dim '-1'/],
      [[pk, { ...vec, dim: 40000 }], /dim '40000'/],
      [[pk, vec, { name: 's', data_type: DataType.VarChar, max_length: 70000 }], /max_length/],
      [[pk, vec, { name: 'v', data_type: DataType.Int32 }], /duplicate|unique|twice/i],
      [[pk, vec, { name: '1x', data_type: DataType.Int32 }], /first character/],
      [[pk, vec, { name: 'a', data_type: DataType.Array, element_type: DataType.Int32 }], /max_capacity/],
      [[pk, vec, { name: 'x', data_type: DataType.Int32, autoID: true }], /auto/i],
      [[{ name: 'id', data_type: DataType.VarChar, is_primary_key: true, max_length: -5 }, vec], /max_length/],
      [[pk, vec, { name: 'v2', data_type: DataType.FloatVector, dim: 4 },
        { name: 'v3', data_type: DataType.FloatVector, dim: 4 },
        { name: 'v4', data_type: DataType.FloatVector, dim: 4 },
        { name: 'v5', data_type: DataType.FloatVector, dim: 4 }], /vector fields/],
    ];
    for (const [fields, re] of cases) {
      const name = uniq('bad');
      await rejected(c.createCollection({ collection_name: name, fields }), re);
      assert.equal((await c.hasCollection({ collection_name: name })).value, false);
    }
    await rejected(c.createCollection({ collection_name: '9lives', fields: [pk, vec] }), /first character/, 1100);
    await rejected(c.createCollection({ collection_name: uniq('shards'), fields: [pk, vec], shards_num: 17 }), /shards_num/);
  });

  t('rename, alter properties, drop and re-create shows the new schema', async () => {
    const a = uniq('ren_a');
    const b = uniq('ren_b');
    ok(await c.createCollection({ collection_name: a, fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'v', data_type: DataType.FloatVector, dim: 4 }] }), 'create');
    const before1 = await c.describeCollection({ collection_name: a });
    ok(await c.renameCollection({ collection_name: a, new_collection_name: b }), 'rename');
    assert.equal((await c.hasCollection({ collection_name: a })).value, false);
    const after1 = await c.describeCollection({ collection_name: b });
    ok(after1, 'describe renamed');
    assert.equal(after1.collectionID, before1.collectionID);
    assert.equal(after1.schema.name, b);
    ok(await c.alterCollectionProperties({ collection_name: b, properties: { 'collection.ttl.seconds': 60 } }), 'alter');
    let d = await c.describeCollection({ collection_name: b });
    assert.deepEqual(d.properties, [{ key: 'collection.ttl.seconds', value: '60' }]);
    assert.ok(BigInt(d.update_timestamp) > BigInt(after1.update_timestamp));
    failed(await c.alterCollectionProperties({ collection_name: b, properties: { 'collection.ttl.seconds': -1 } }),
      /collection\.ttl\.seconds.*integer/, 1100);
    failed(await c.alterCollectionProperties({ collection_name: b, properties: { 'mmap.enabled': 'maybe' } }),
      /mmap\.enabled/, 1100);
    ok(await c.dropCollectionProperties({ collection_name: b, properties: ['collection.ttl.seconds'] }), 'drop props');
    d = await c.describeCollection({ collection_name: b });
    assert.deepEqual(d.properties, []);
    ok(await c.dropCollection({ collection_name: b }), 'drop');
    ok(await c.createCollection({ collection_name: b, fields: [
      { name: 'key', data_type: DataType.VarChar, is_primary_key: true, max_length: 8 },
      { name: 'w', data_type: DataType.FloatVector, dim: 16 }] }), 're-create');
    d = await c.describeCollection({ collection_name: b });
    assert.deepEqual(d.schema.fields.map((f) => f.name), ['key', 'w']);
    assert.equal(d.schema.fields[1].dim, '16');
    assert.notEqual(d.collectionID, before1.collectionID);
  });

  t('partitions: create, has, list, statistics, drop, errors', async () => {
    const name = uniq('parts');
    ok(await c.createCollection({ collection_name: name, fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'v', data_type: DataType.FloatVector, dim: 4 }] }), 'create');
    ok(await c.createPartition({ collection_name: name, partition_name: 'p1' }), 'p1');
    ok(await c.createPartition({ collection_name: name, partition_name: 'p2' }), 'p2');
    failed(await c.createPartition({ collection_name: name, partition_name: 'p1' }), /already exists/);
    failed(await c.createPartition({ collection_name: name, partition_name: 'bad-name' }), /partition name/, 1100);
    const has = await c.hasPartition({ collection_name: name, partition_name: 'p2' });
    ok(has, 'has');
    assert.equal(has.value, true);
    assert.equal((await c.hasPartition({ collection_name: name, partition_name: 'p9' })).value, false);
    const list = await c.listPartitions({ collection_name: name });
    ok(list, 'list');
    assert.deepEqual(list.partition_names, ['_default', 'p1', 'p2']);
    assert.equal(list.partitionIDs.length, 3);
    const st = await c.getPartitionStatistics({ collection_name: name, partition_name: 'p1' });
    ok(st, 'stats');
    assert.equal(st.data.row_count, '0');
    failed(await c.getPartitionStatistics({ collection_name: name, partition_name: 'p9' }), /not found/, 200);
    ok(await c.dropPartition({ collection_name: name, partition_name: 'p1' }), 'drop p1');
    failed(await c.dropPartition({ collection_name: name, partition_name: 'p1' }), /not found/, 200);
    failed(await c.dropPartition({ collection_name: name, partition_name: '_default' }), /cannot be dropped/);
    assert.deepEqual((await c.listPartitions({ collection_name: name })).partition_names, ['_default', 'p2']);
    failed(await c.createPartition({ collection_name: uniq('nope'), partition_name: 'p' }), /not found/, 100);
  });

  t('databases: create, list, describe, alter, isolation, drop', async () => {
    const db = uniq('db');
    ok(await c.createDatabase({ db_name: db, properties: { 'database.max.collections': 10 } }), 'create db');
    failed(await c.createDatabase({ db_name: db }), /already exists/);
    failed(await c.createDatabase({ db_name: 'bad db' }), /database name/, 1100);
    const list = await c.listDatabases();
    ok(list, 'list');
    assert.equal(list.db_names[0], 'default');
    assert.ok(list.db_names.includes(db));
    const d = await c.describeDatabase({ db_name: db });
    ok(d, 'describe');
    assert.equal(d.db_name, db);
    assert.deepEqual(d.properties, [{ key: 'database.max.collections', value: '10' }]);
    ok(await c.alterDatabaseProperties({ db_name: db, properties: { 'database.replica.number': 1 } }), 'alter');
    const d2 = await c.describeDatabase({ db_name: db });
    assert.equal(d2.properties.length, 2);
    const missingDb = await c.describeDatabase({ db_name: uniq('nodb') });
    assert.notEqual(missingDb.status.error_code, 'Success');
    assert.equal(missingDb.status.code, 800);

    // The same collection name in two databases, with different schemas.
    const name = uniq('same');
    ok(await c.createCollection({ collection_name: name, fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'v', data_type: DataType.FloatVector, dim: 4 }] }), 'create in default');
    ok(await c.createCollection({ db_name: db, collection_name: name, fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'v', data_type: DataType.FloatVector, dim: 12 }] }), 'create in db');
    const inDb = await c.describeCollection({ db_name: db, collection_name: name });
    assert.equal(inDb.db_name, db);
    assert.equal(inDb.schema.fields[1].dim, '12');
    assert.equal((await c.describeCollection({ collection_name: name })).schema.fields[1].dim, '4');
    // The dbname header (client.use) selects the database too.
    const c2 = new MilvusClient({ address: dep.address, timeout: 15000, database: db });
    try {
      await c2.connectPromise;
      const viaHeader = await c2.describeCollection({ collection_name: name });
      assert.equal(viaHeader.schema.fields[1].dim, '12');
      const names = (await c2.listCollections()).data.map((x) => x.name);
      assert.deepEqual(names, [name]);
    } finally {
      await c2.closeConnection();
    }
    failed(await c.dropDatabase({ db_name: db }), /still has collections/);
    ok(await c.dropCollection({ db_name: db, collection_name: name }), 'drop coll in db');
    // Rename moves a collection into another database.
    const mv = uniq('moved');
    ok(await c.createCollection({ collection_name: mv, fields: [
      { name: 'id', data_type: DataType.Int64, is_primary_key: true },
      { name: 'v', data_type: DataType.FloatVector, dim: 4 }] }), 'create mv');
    const mvId = (await c.describeCollection({ collection_name: mv })).collectionID;
    ok(await c.renameCollection({ collection_name: mv, new_collection_name: mv, new_db_name: db }), 'move');
    assert.equal((await c.hasCollection({ collection_name: mv })).value, false);
    const moved = await c.describeCollection({ db_name: db, collection_name: mv });
    ok(moved, 'describe moved');
    assert.equal(moved.collectionID, mvId);
    assert.equal(moved.db_name, db);
    failed(await c.renameCollection({ db_name: db, collection_name: mv, new_collection_name: 'x',
      new_db_name: uniq('nodb') }), /database '.*' not found/, 800);
    failed(await c.renameCollection({ collection_name: mv, new_collection_name: 'x' }), /not found/, 100);
    ok(await c.dropCollection({ db_name: db, collection_name: mv }), 'drop moved');
    assert.equal((await c.hasCollection({ collection_name: name })).value, true);
    ok(await c.dropDatabase({ db_name: db }), 'drop db');
    assert.ok(!(await c.listDatabases()).db_names.includes(db));
    failed(await c.dropDatabase({ db_name: 'default' }), /cannot be dropped/);
    failed(await c.describeCollection({ db_name: db, collection_name: name }), /database/, 800);
  });

  t('aliases: create, describe, resolve in describe, alter, list, drop', async () => {
    const a = uniq('ali_a');
    const b = uniq('ali_b');
    const al = uniq('al');
    for (const n of [a, b]) {
      ok(await c.createCollection({ collection_name: n, fields: [
        { name: 'id', data_type: DataType.Int64, is_primary_key: true },
        { name: 'v', data_type: DataType.FloatVector, dim: 4 }] }), `create ${n}`);
    }
    ok(await c.createAlias({ collection_name: a, alias: al }), 'create alias');
    failed(await c.createAlias({ collection_name: b, alias: al }), /already exists/);
    failed(await c.createAlias({ collection_name: b, alias: a }), /already a collection/);
    const da = await c.describeAlias({ collection_name: a, alias: al });
    ok(da, 'describe alias');
    assert.equal(da.collection, a);
    assert.equal(da.alias, al);
    const viaAlias = await c.describeCollection({ collection_name: al });
    ok(viaAlias, 'describe via alias');
    assert.equal(viaAlias.collection_name, a);
    assert.deepEqual(viaAlias.aliases, [al]);
    assert.equal((await c.hasCollection({ collection_name: al })).value, true);
    assert.deepEqual((await c.listAliases({ collection_name: a })).aliases, [al]);
    ok(await c.alterAlias({ collection_name: b, alias: al }), 'alter alias');
    assert.equal((await c.describeCollection({ collection_name: al })).collection_name, b);
    assert.deepEqual((await c.listAliases({ collection_name: a })).aliases, []);
    assert.deepEqual((await c.describeCollection({ collection_name: b })).aliases, [al]);
    ok(await c.dropAlias({ alias: al }), 'drop alias');
    assert.equal((await c.hasCollection({ collection_name: al })).value, false);
    failed(await c.dropAlias({ alias: al }), /not found/);
    failed(await c.describeAlias({ collection_name: a, alias: al }), /not found/);
    // Dropping a collection drops its aliases.
    ok(await c.createAlias({ collection_name: b, alias: al }), 're-create alias');
    ok(await c.dropCollection({ collection_name: b }), 'drop b');
    assert.equal((await c.hasCollection({ collection_name: al })).value, false);
  });
}
