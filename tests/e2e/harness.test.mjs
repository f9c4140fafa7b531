// harness.test.mjs -- the server helpers of lib/servers.mjs themselves:
// bounded start/stop, SIGKILL escalation, no leftover processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  freePort, quiverBin, spawnServer, startEtcd, startKafkaBroker, startQuiver,
  startS3rver,
} from './lib/servers.mjs';

function alive(pid) {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

test('freePort gives distinct bindable ports', async () => {
  const a = await freePort();
  const b = await freePort();
  assert.ok(a > 0 && b > 0);
});

test('stop escalates to SIGKILL when SIGTERM is ignored', async () => {
  const h = spawnServer('stubborn', 'sh', ['-c', 'trap "" TERM; echo up; while :; do sleep 0.1; done']);
  await new Promise((r) => setTimeout(r, 200));
  const t0 = Date.now();
  const exit = await h.stop({ termMs: 300 });
  assert.equal(exit.signal, 'SIGKILL');
  assert.ok(Date.now() - t0 < 3000);
  assert.equal(alive(h.proc.pid), false);
  assert.match(h.output(), /up/);
});

test('startQuiver names a missing binary', async () => {
  const saved = process.env.QUIVER_BIN;
  process.env.QUIVER_BIN = '/nonexistent/quiver';
  try {
    await assert.rejects(startQuiver(), /quiver binary not found at \/nonexistent\/quiver/);
  } finally {
    if (saved === undefined) delete process.env.QUIVER_BIN; else process.env.QUIVER_BIN = saved;
  }
});

test('startQuiver gives a fresh data dir and removes it on stop', async () => {
  const q = await startQuiver();
  assert.ok(fs.existsSync(q.dataDir));
  const pid = q.server.proc.pid;
  const exit = await q.stop();
  assert.equal(exit.code, 0, q.output());
  assert.equal(alive(pid), false);
  assert.equal(fs.existsSync(q.dataDir), false);
});

test('etcd starts healthy, serves a put and stops without leftovers', async () => {
  const e = await startEtcd();
  try {
    const key = Buffer.from('harness/k').toString('base64');
    const put = await fetch(`http://${e.endpoint}/v3/kv/put`, {
      method: 'POST', body: JSON.stringify({ key, value: Buffer.from('v').toString('base64') }),
    });
    assert.equal(put.status, 200);
    const got = await (await fetch(`http://${e.endpoint}/v3/kv/range`, {
      method: 'POST', body: JSON.stringify({ key }),
    })).json();
    assert.equal(Buffer.from(got.kvs[0].value, 'base64').toString(), 'v');
  } finally {
    const pid = e.server.proc.pid;
    await e.stop();
    assert.equal(alive(pid), false);
    assert.equal(fs.existsSync(e.dataDir), false);
  }
});

test('s3rver serves put/get on its bucket', async () => {
  const s = await startS3rver({ buckets: ['quiver', 'other'] });
  try {
    assert.equal((await fetch(`${s.endpoint}/quiver/a/b`, { method: 'PUT', body: 'hello' })).status, 200);
    const g = await fetch(`${s.endpoint}/quiver/a/b`);
    assert.equal(g.status, 200);
    assert.equal(await g.text(), 'hello');
    assert.equal((await fetch(`${s.endpoint}/missing-bucket/x`)).status, 404);
  } finally {
    await s.stop();
  }
  assert.equal(fs.existsSync(s.directory), false);
});

const brokerBin = path.join(path.dirname(quiverBin()), 'tests', 'kafka_broker', 'qv_kafka_broker');
test('the Kafka test broker prints its bootstrap list', { skip: !fs.existsSync(brokerBin) && `no ${brokerBin}` }, async () => {
  const k = await startKafkaBroker({ bin: brokerBin });
  try {
    assert.match(k.bootstrap, /^127\.0\.0\.1:\d+$/);
  } finally {
    const exit = await k.stop();
    assert.equal(exit.code, 0, k.server.output());
  }
});
