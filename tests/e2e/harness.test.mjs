// harness.test.mjs -- the server helpers of lib/servers.mjs themselves:
// bounded start/stop, SIGKILL escalation, no leftover processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  freePort, quiverBin, spawnServer, startEtcd, startKafkaBroker, startQuiver,
  startS3rver,
} from './lib/servers.mjs';

// True while pid runs (a zombie waiting for its reaper counts as dead).
function alive(pid) {
  try { process.kill(pid, 0); } catch { return false; }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch { return false; }
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

test('servers die with a test process that is killed outright', async () => {
  // A child node process starts a server, prints its pid, then is SIGKILLed.
  const lib = new URL('./lib/servers.mjs', import.meta.url).href;
  const script = `import { spawnServer } from '${lib}';
    const h = spawnServer('sleeper', 'sleep', ['60']);
    console.log(h.proc.pid);
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const pid = await new Promise((resolve, reject) => {
    child.stdout.once('data', (d) => resolve(Number(String(d).trim())));
    child.once('exit', () => reject(new Error('child exited early')));
  });
  assert.ok(alive(pid));
  child.kill('SIGKILL');
  const end = Date.now() + 5000;
  while (alive(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  assert.equal(alive(pid), false, `server ${pid} outlived its test process`);
});
