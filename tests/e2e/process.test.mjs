// process.test.mjs -- `quiver standalone` as an operator sees it: /healthz,
// /metrics counters that move with requests, one clear line for bad
// configuration, a busy port or a data directory already in use, and a
// clean exit on SIGTERM.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { HOST, quiverBin, startQuiver } from './lib/servers.mjs';

let q;

before(async () => {
  q = await startQuiver();
});

after(async () => {
  if (q) {
    const exit = await q.stop();
    assert.equal(exit.code, 0, `quiver did not exit cleanly:\n${q.output()}`);
  }
});

async function httpGet(p) {
  const res = await fetch(`http://${HOST}:${q.httpPort}${p}`);
  return { status: res.status, body: await res.text() };
}

// Value of one sample line of the Prometheus text, or 0 when absent.
function sample(text, line) {
  const hit = text.split('\n').find((l) => l.startsWith(line + ' '));
  return hit ? Number(hit.slice(line.length + 1)) : 0;
}

test('process: /healthz answers OK while serving', async () => {
  const r = await httpGet('/healthz');
  assert.equal(r.status, 200);
  assert.equal(r.body.trim(), 'OK');
  assert.equal((await httpGet('/nope')).status, 404);
});

test('process: /metrics request counters move with SDK calls', async () => {
  const key = 'quiver_rpc_requests_total{method="GetVersion",code="OK"}';
  const before = sample((await httpGet('/metrics')).body, key);
  const client = new MilvusClient({ address: q.address, timeout: 10000 });
  try {
    await client.connectPromise;
    for (let i = 0; i < 3; i++) await client.getVersion();
  } finally {
    await client.closeConnection();
  }
  const m = await httpGet('/metrics');
  assert.equal(m.status, 200);
  assert.match(m.body, /# TYPE quiver_rpc_requests_total counter/);
  assert.equal(sample(m.body, key), before + 3);
  assert.ok(sample(m.body,
    'quiver_rpc_latency_seconds_count{method="GetVersion"}') >= 3);
  assert.ok(sample(m.body, 'quiver_http_requests_total{path="/metrics"}') >= 1);
});

// Runs quiver to completion (it must fail fast) and returns {status, lines}.
function runFailing(args, env = {}) {
  const r = spawnSync(quiverBin(), args, {
    encoding: 'utf8', timeout: 10000, env: { ...process.env, ...env },
  });
  assert.equal(r.error, undefined, `quiver did not exit: ${r.error}`);
  const lines = r.stderr.split('\n').filter((l) => l.length > 0);
  return { status: r.status, lines };
}

test('process: bad configuration fails at start with one line naming the key', () => {
  const unknown = runFailing(['standalone', '--set', 'proxy.prot=1']);
  assert.equal(unknown.status, 2);
  assert.deepEqual(unknown.lines, ["quiver: unknown config key 'proxy.prot' (from --set)"]);

  const port = runFailing(['standalone', '--set', 'proxy.port=99999']);
  assert.equal(port.status, 2);
  assert.equal(port.lines.length, 1);
  assert.match(port.lines[0], /'proxy\.port'.*99999.*TCP port/);

  const env = runFailing(['standalone'], { QUIVER_HTTP_PORT: 'abc' });
  assert.equal(env.status, 2);
  assert.equal(env.lines.length, 1);
  assert.match(env.lines[0], /QUIVER_HTTP_PORT.*'http\.port'/);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-cfg-'));
  const file = path.join(dir, 'quiver.yaml');
  fs.writeFileSync(file, 'proxy:\n  port: 19530\n  colour: blue\n');
  const yaml = runFailing(['standalone', '--config', file]);
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(yaml.status, 2);
  assert.equal(yaml.lines.length, 1);
  assert.match(yaml.lines[0], /unknown config key 'proxy\.colour'/);
});

test('process: an unwritable data directory fails with one clear line', () => {
  const r = runFailing(['standalone', '--set', 'localStorage.path=/proc/quiver',
    '--set', 'proxy.port=0', '--set', 'http.port=0']);
  assert.equal(r.status, 1);
  assert.equal(r.lines.length, 1);
  assert.match(r.lines[0], /data directory '\/proc\/quiver'/);
});

test('process: a second server on the same data directory or port is refused', () => {
  const sameDir = runFailing(['standalone', '--set', `localStorage.path=${q.dataDir}`,
    '--set', 'proxy.port=0', '--set', 'http.port=0']);
  assert.equal(sameDir.status, 1);
  assert.match(sameDir.lines.join('\n'), /is in use by another quiver process \(pid \d+\)/);

  const other = fs.mkdtempSync(path.join(os.tmpdir(), 'quiver-dir-'));
  try {
    const samePort = runFailing(['standalone', '--set', `localStorage.path=${other}`,
      '--set', `proxy.port=${q.port}`, '--set', 'http.port=0']);
    assert.equal(samePort.status, 1);
    assert.match(samePort.lines.join('\n'), new RegExp(`:${q.port}.*in use`));

    const sameHttp = runFailing(['standalone', '--set', `localStorage.path=${other}`,
      '--set', 'proxy.port=0', '--set', `http.port=${q.httpPort}`]);
    assert.equal(sameHttp.status, 1);
    assert.match(sameHttp.lines.join('\n'), new RegExp(`:${q.httpPort}.*in use`));
  } finally {
    fs.rmSync(other, { recursive: true, force: true });
  }
});

test('process: version and usage', () => {
  const v = spawnSync(quiverBin(), ['version'], { encoding: 'utf8', timeout: 5000 });
  assert.equal(v.status, 0);
  assert.match(v.stdout, /^quiver v\d+\.\d+\.\d+/);
  const u = spawnSync(quiverBin(), ['frobnicate'], { encoding: 'utf8', timeout: 5000 });
  assert.equal(u.status, 2);
  assert.match(u.stderr, /unknown command 'frobnicate'/);
});
