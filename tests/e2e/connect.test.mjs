// connect.test.mjs -- the Milvus Node.js SDK connects to a real
// `quiver standalone`: Connect, GetVersion, CheckHealth.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import grpc from '@grpc/grpc-js';
import { CONNECT_STATUS, MilvusClient } from '@zilliz/milvus2-sdk-node';
import { quiverBin, startQuiver } from './lib/servers.mjs';

const SEMVER = /^v\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]+)?$/;
let q;
let client;

before(async () => {
  q = await startQuiver();
  client = new MilvusClient({ address: q.address, timeout: 10000 });
  await client.connectPromise;
});

after(async () => {
  await client?.closeConnection();
  if (q) {
    const exit = await q.stop();
    assert.equal(exit.code, 0, `quiver did not exit cleanly:\n${q.output()}`);
  }
});

test('connect: the SDK is CONNECTED with a server identifier and info', () => {
  assert.equal(client.connectStatus, CONNECT_STATUS.CONNECTED);
  const id = client.metadata.get('identifier');
  assert.match(String(id), /^[1-9]\d*$/);
  const info = client.serverInfo;
  assert.match(info.build_tags, SEMVER);
  assert.equal(info.deploy_mode, 'STANDALONE');
  assert.ok(info.git_commit.length > 0);
  assert.ok(info.build_time.length > 0);
});

test('connect: each connection gets its own identifier', async () => {
  const c2 = new MilvusClient({ address: q.address, timeout: 10000 });
  try {
    await c2.connectPromise;
    assert.equal(c2.connectStatus, CONNECT_STATUS.CONNECTED);
    assert.notEqual(c2.metadata.get('identifier'), client.metadata.get('identifier'));
  } finally {
    await c2.closeConnection();
  }
});

test('getVersion returns the build version', async () => {
  const res = await client.getVersion();
  assert.equal(res.status.error_code, 'Success');
  assert.match(res.version, SEMVER);
  assert.equal(res.version, client.serverInfo.build_tags);
  const printed = execFileSync(quiverBin(), ['version'], { encoding: 'utf8', timeout: 10000 });
  assert.ok(printed.includes(res.version), `'quiver version' printed:\n${printed}`);
});

test('checkHealth reports healthy', async () => {
  const res = await client.checkHealth();
  assert.equal(res.status.error_code, 'Success');
  assert.equal(res.isHealthy, true);
  assert.deepEqual(res.reasons, []);
});

test('an unknown database in the header does not break the handshake RPCs', async () => {
  const c3 = new MilvusClient({ address: q.address, timeout: 10000, database: 'nope' });
  try {
    await c3.connectPromise;
    const res = await c3.checkHealth();
    assert.equal(res.isHealthy, true);
  } finally {
    await c3.closeConnection();
  }
});

// Raw grpc-js calls: status codes the SDK's interceptor would hide.
function rawCall(method, timeoutMs = 5000) {
  const c = new grpc.Client(q.address, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    const t0 = Date.now();
    c.makeUnaryRequest(method, () => Buffer.alloc(0), (b) => b, {},
      { deadline: Date.now() + timeoutMs }, (err, res) => {
        c.close();
        resolve({ err, res, ms: Date.now() - t0 });
      });
  });
}

test('unknown methods and client telemetry get UNIMPLEMENTED at once', async () => {
  for (const m of ['/milvus.proto.milvus.MilvusService/NoSuchMethod',
    '/milvus.proto.milvus.ClientTelemetryService/ClientHeartbeat']) {
    const { err, ms } = await rawCall(m);
    assert.ok(err, `${m} succeeded`);
    assert.equal(err.code, grpc.status.UNIMPLEMENTED, `${m}: ${err.message}`);
    assert.ok(ms < 2000, `${m} took ${ms} ms (waited for the deadline?)`);
  }
});

test('a request above 4 MiB is accepted (receive limit >= 256 MiB)', async () => {
  // 6 MB of unknown field 15 (bytes) in a CheckHealthRequest: parsed and
  // ignored, so the call succeeds only if the size limit allows it.
  const n = 6 * 1000 * 1000;
  const head = Buffer.from([0x7a, ...varint(n)]);
  const body = Buffer.concat([head, Buffer.alloc(n, 0x61)]);
  const c = new grpc.Client(q.address, grpc.credentials.createInsecure(),
    { 'grpc.max_send_message_length': 64 << 20 });
  const res = await new Promise((resolve, reject) => {
    c.makeUnaryRequest('/milvus.proto.milvus.MilvusService/CheckHealth', () => body,
      (b) => b, {}, { deadline: Date.now() + 20000 }, (err, r) => (err ? reject(err) : resolve(r)));
  }).finally(() => c.close());
  assert.ok(Buffer.isBuffer(res));
});

function varint(v) {
  const out = [];
  while (v > 0x7f) { out.push((v & 0x7f) | 0x80); v = Math.floor(v / 128); }
  out.push(v);
  return out;
}
