// servers.mjs -- start and stop the servers the end-to-end tests need
// (quiver, etcd, the Kafka test broker, s3rver) on 127.0.0.1, with bounded
// waits and no leftover processes.
//
// Every spawned process is tracked: stop() sends SIGTERM, then SIGKILL
// after a bound; anything still running when the test process exits (or
// gets SIGINT/SIGTERM) is killed, and the kernel kills it if the test
// process is killed outright (setpriv --pdeathsig).  Temporary directories are removed on
// stop unless `keep: true`.
//
// Usage (node --test):
//   import { startQuiver } from './lib/servers.mjs';
//   const q = await startQuiver();            // q.address = '127.0.0.1:P'
//   after(() => q.stop());
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const e2eDir = path.resolve(here, '..');
export const repoRoot = path.resolve(e2eDir, '../..');
export const HOST = '127.0.0.1';

const live = new Set(); // child processes not yet reaped

function killAll() {
  for (const p of live) {
    try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
  }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => { killAll(); process.exit(128 + (sig === 'SIGINT' ? 2 : 15)); });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// A timer for Promise.race bounds: unref'd, so a bound that is not reached
// never keeps the test process alive.
const bound = (ms) => new Promise((r) => setTimeout(r, ms).unref());

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves true once host:port accepts a TCP connection. */
function canConnect(port, host = HOST) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    const done = (ok) => { s.destroy(); resolve(ok); };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(500, () => done(false));
  });
}

/**
 * Spawns a server process and tracks it.  Returns a handle:
 *   { name, proc, output(), exited (promise of {code, signal}), stop() }
 * output() is the last 64 KiB of stdout+stderr (for error messages).
 */
// setpriv (util-linux, always in Debian) makes the kernel SIGKILL a child
// when this process dies, even by SIGKILL (a test timeout): no leftovers.
const SETPRIV = process.env.QV_E2E_NO_SETPRIV ? undefined
  : ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => fs.existsSync(p));

export function spawnServer(name, cmd, args, { env, cwd, onStdout } = {}) {
  if (SETPRIV) {
    args = ['--pdeathsig', 'KILL', '--', cmd, ...args];
    cmd = SETPRIV;
  }
  const proc = spawn(cmd, args, {
    cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  let out = '';
  const keep = (chunk) => {
    out += chunk.toString();
    if (out.length > 65536) out = out.slice(-65536);
  };
  proc.stdout.on('data', (c) => { keep(c); if (onStdout) onStdout(c.toString()); });
  proc.stderr.on('data', keep);
  const exited = new Promise((resolve) => {
    proc.once('exit', (code, signal) => { live.delete(proc); resolve({ code, signal }); });
    proc.once('error', (e) => { live.delete(proc); keep(`spawn failed: ${e.message}\n`); resolve({ code: -1, signal: null }); });
  });
  let state = null;
  exited.then((s) => { state = s; });
  const handle = {
    name, proc, exited,
    output: () => out,
    running: () => state === null,
    /** SIGTERM, wait up to termMs, then SIGKILL; resolves to the exit. */
    async stop({ termMs = 10000 } = {}) {
      if (state) return state;
      try { proc.kill('SIGTERM'); } catch { /* gone */ }
      const t = await Promise.race([exited, bound(termMs).then(() => null)]);
      if (t) return t;
      try { proc.kill('SIGKILL'); } catch { /* gone */ }
      return await Promise.race([exited, bound(5000).then(() => ({ code: null, signal: 'SIGKILL' }))]);
    },
  };
  return handle;
}

/** True when GET /healthz on 127.0.0.1:httpPort answers 200. */
async function isHealthy(httpPort) {
  try {
    const res = await fetch(`http://${HOST}:${httpPort}/healthz`,
      { signal: AbortSignal.timeout(1000) });
    await res.text();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** Polls check() every 25 ms until it resolves truthy, the server exits or
 *  timeoutMs passes; throws with the server's output otherwise. */
async function waitReady(h, what, timeoutMs, check) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (!h.running()) {
      throw new Error(`${h.name} exited before ${what}:\n${h.output()}`);
    }
    if (await check()) return;
    await sleep(25);
  }
  await h.stop();
  throw new Error(`${h.name}: no ${what} within ${timeoutMs} ms:\n${h.output()}`);
}

function tmpDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

function rmDir(dir) {
  try { fs.rmSync(dir, { recursive: true, force: true }); } catch { /* ignore */ }
}

/** The quiver binary: $QUIVER_BIN or <repo>/build/quiver. */
export function quiverBin() {
  return process.env.QUIVER_BIN || path.join(repoRoot, 'build', 'quiver');
}

/**
 * Starts `quiver standalone` on free ports with a fresh data directory and
 * waits until its gRPC port accepts connections.
 *   opts.extraArgs   more arguments (e.g. ['--set', 'log.level=debug'])
 *   opts.dataDir     use this data directory (kept on stop)
 *   opts.env         extra environment
 *   opts.readyMs     readiness bound (default 20 s)
 * Returns { address, port, httpPort, dataDir, server, output(), stop() }.
 */
export async function startQuiver(opts = {}) {
  const bin = quiverBin();
  if (!fs.existsSync(bin)) throw new Error(`quiver binary not found at ${bin} (set QUIVER_BIN)`);
  const ownDir = !opts.dataDir;
  const dataDir = opts.dataDir || tmpDir('quiver-e2e-');
  // A port can be taken between the probe and quiver's bind: retry.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const httpPort = await freePort();
    const args = ['standalone', '--set', `proxy.port=${port}`,
      '--set', `http.port=${httpPort}`, '--set', `localStorage.path=${dataDir}`,
      ...(opts.extraArgs || [])];
    const server = spawnServer('quiver', bin, args, { env: opts.env, cwd: repoRoot });
    try {
      await waitReady(server, `gRPC on ${HOST}:${port}`, opts.readyMs ?? 20000,
        () => canConnect(port));
      // Ready means every service serves: /healthz turns 200 only then.
      await waitReady(server, `/healthz on ${HOST}:${httpPort}`,
        opts.readyMs ?? 20000, () => isHealthy(httpPort));
    } catch (e) {
      await server.stop();
      if (attempt < 3 && /in use/.test(server.output())) continue;
      if (ownDir && !opts.keep) rmDir(dataDir);
      throw e;
    }
    return {
      address: `${HOST}:${port}`, port, httpPort, dataDir, server,
      output: () => server.output(),
      async stop(stopOpts) {
        const r = await server.stop(stopOpts);
        if (ownDir && !opts.keep) rmDir(dataDir);
        return r;
      },
    };
  }
}

/**
 * Starts a single-member etcd (the `etcd` binary) with fast elections.
 * Returns { endpoint: '127.0.0.1:P', clientPort, dataDir, server, stop() }.
 */
export async function startEtcd(opts = {}) {
  const dataDir = tmpDir('quiver-etcd-');
  for (let attempt = 1; ; attempt++) {
    const cp = await freePort();
    const pp = await freePort();
    const url = (p) => `http://${HOST}:${p}`;
    const args = ['--name', 'e2e', '--data-dir', path.join(dataDir, 'data'),
      '--listen-client-urls', url(cp), '--advertise-client-urls', url(cp),
      '--listen-peer-urls', url(pp), '--initial-advertise-peer-urls', url(pp),
      '--initial-cluster', `e2e=${url(pp)}`, '--initial-cluster-state', 'new',
      '--heartbeat-interval', '10', '--election-timeout', '100',
      '--logger', 'zap', '--log-outputs', 'stderr', '--log-level', 'warn',
      ...(opts.extraArgs || [])];
    const server = spawnServer('etcd', opts.bin || 'etcd', args);
    try {
      await waitReady(server, `health on ${url(cp)}`, opts.readyMs ?? 15000, async () => {
        try {
          const r = await fetch(`${url(cp)}/health`, { signal: AbortSignal.timeout(500) });
          return r.ok && (await r.json()).health === 'true';
        } catch { return false; }
      });
    } catch (e) {
      await server.stop();
      if (attempt < 3 && /address already in use/.test(server.output())) continue;
      rmDir(dataDir);
      throw e;
    }
    return {
      endpoint: `${HOST}:${cp}`, clientPort: cp, dataDir, server,
      async stop() { const r = await server.stop(); rmDir(dataDir); return r; },
    };
  }
}

/**
 * Starts the Kafka test broker (tests/kafka_broker, built as
 * qv_kafka_broker next to quiver unless opts.bin is given) and waits for
 * its "BOOTSTRAP host:port,..." line.
 * Returns { bootstrap, server, stop() }.
 */
export async function startKafkaBroker(opts = {}) {
  const bin = opts.bin || process.env.QV_KAFKA_BROKER_BIN
    || path.join(path.dirname(quiverBin()), 'tests', 'kafka_broker', 'qv_kafka_broker');
  let bootstrap = null;
  let buf = '';
  const args = ['--brokers', String(opts.brokers || 1), ...(opts.port ? ['--port', String(opts.port)] : [])];
  const server = spawnServer('kafka-broker', bin, args, {
    onStdout: (s) => {
      buf += s;
      const m = /^BOOTSTRAP (\S+)$/m.exec(buf);
      if (m) bootstrap = m[1];
    },
  });
  await waitReady(server, 'BOOTSTRAP line', opts.readyMs ?? 15000, async () => bootstrap !== null);
  return { bootstrap, server, stop: () => server.stop() };
}

/**
 * Starts s3rver 3.7.1 in this process on a free port with the given
 * buckets (default ['quiver']).  s3rver does not check signatures.
 * Returns { endpoint: 'http://127.0.0.1:P', port, accessKeyId,
 * secretAccessKey, directory, stop() }.
 */
export async function startS3rver(opts = {}) {
  const { default: S3rver } = await import('s3rver');
  const directory = tmpDir('quiver-s3-');
  const port = await freePort();
  const s3 = new S3rver({
    address: HOST, port, silent: true, directory,
    configureBuckets: (opts.buckets || ['quiver']).map((name) => ({ name })),
  });
  await Promise.race([
    s3.run(),
    bound(opts.readyMs ?? 15000).then(() => { throw new Error('s3rver did not start'); }),
  ]);
  return {
    endpoint: `http://${HOST}:${port}`, port, directory,
    accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER',
    async stop() { await s3.close(); rmDir(directory); },
  };
}
