// proto_schema.test.mjs -- our proto/milvus/*.proto against the schema
// embedded in the pinned Milvus Node.js SDK (= milvus-proto branch 3.0):
// every message, field, enum value and service method we define must have
// the SDK's number, type, label and oneof.  Only the protoc-c renames
// (`base` -> `msg_base`) may differ, as field names are not on the wire.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { createRequire } from 'node:module';
import protobuf from 'protobufjs';
import { repoRoot } from './lib/servers.mjs';

const require = createRequire(import.meta.url);
const protoRoot = path.join(repoRoot, 'proto');
const FILES = ['milvus/common.proto', 'milvus/schema.proto', 'milvus/milvus.proto'];

function loadOurs() {
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => path.join(protoRoot, target);
  root.loadSync(FILES, { keepCase: true });
  root.resolveAll();
  return root;
}

function loadSdk() {
  const json = require('@zilliz/milvus2-sdk-node/dist/milvus/proto-json/milvus.js').default;
  const root = protobuf.Root.fromJSON(json);
  root.resolveAll();
  return root;
}

function* walk(ns) {
  for (const obj of ns.nestedArray) {
    yield obj;
    if (obj.nestedArray) yield* walk(obj);
  }
}

const sameName = (ours, theirs) => ours === theirs || (ours === 'msg_base' && theirs === 'base');
const typeName = (f) => (f.resolvedType ? f.resolvedType.fullName : f.type);

const ours = loadOurs();
const sdk = loadSdk();
const defined = [...walk(ours.lookup('milvus.proto'))];

test('our protos define the public API types', () => {
  for (const n of ['.milvus.proto.common.Status', '.milvus.proto.schema.FieldData',
    '.milvus.proto.milvus.ConnectResponse', '.milvus.proto.milvus.MilvusService']) {
    assert.ok(defined.some((o) => o.fullName === n), `${n} is missing`);
  }
});

test('every message matches the SDK field for field', () => {
  let fields = 0;
  for (const t of defined.filter((o) => o instanceof protobuf.Type)) {
    const s = sdk.lookup(t.fullName);
    assert.ok(s instanceof protobuf.Type, `${t.fullName}: not in the SDK schema`);
    const theirs = new Map(s.fieldsArray.map((f) => [f.id, f]));
    for (const f of t.fieldsArray) {
      const g = theirs.get(f.id);
      const where = `${t.fullName}.${f.name} = ${f.id}`;
      assert.ok(g, `${where}: no field with that number upstream`);
      assert.ok(sameName(f.name, g.name), `${where}: upstream calls it ${g.name}`);
      assert.equal(typeName(f), typeName(g), `${where}: type`);
      assert.equal(f.repeated, g.repeated, `${where}: repeated`);
      assert.equal(f.map, g.map, `${where}: map`);
      if (f.map) assert.equal(f.keyType, g.keyType, `${where}: map key`);
      const oo = f.partOf && !f.partOf.name.startsWith('_') ? f.partOf.name : null;
      const go = g.partOf && !g.partOf.name.startsWith('_') ? g.partOf.name : null;
      assert.equal(oo, go, `${where}: oneof`);
      fields++;
    }
    for (const g of s.fieldsArray) {
      assert.ok(t.fieldsById[g.id], `${t.fullName}: upstream field ${g.name} = ${g.id} is missing`);
    }
  }
  assert.ok(fields > 300, `only ${fields} fields checked`);
});

test('every enum matches the SDK value for value', () => {
  for (const e of defined.filter((o) => o instanceof protobuf.Enum)) {
    const s = sdk.lookup(e.fullName);
    assert.ok(s instanceof protobuf.Enum, `${e.fullName}: not in the SDK schema`);
    assert.deepEqual({ ...e.values }, { ...s.values }, `${e.fullName}: values differ`);
  }
});

test('every service method matches the SDK', () => {
  for (const svc of defined.filter((o) => o instanceof protobuf.Service)) {
    const s = sdk.lookup(svc.fullName);
    assert.ok(s instanceof protobuf.Service, `${svc.fullName}: not in the SDK schema`);
    for (const m of svc.methodsArray) {
      const g = s.methods[m.name];
      assert.ok(g, `${svc.fullName}/${m.name}: no such method upstream`);
      m.resolve();
      g.resolve();
      assert.equal(m.resolvedRequestType.fullName, g.resolvedRequestType.fullName, `${m.name} request`);
      assert.equal(m.resolvedResponseType.fullName, g.resolvedResponseType.fullName, `${m.name} response`);
      assert.equal(!!m.requestStream, !!g.requestStream, `${m.name} request stream`);
      assert.equal(!!m.responseStream, !!g.responseStream, `${m.name} response stream`);
    }
  }
});
