// cluster.mjs -- a Quiver cluster for end-to-end tests: `quiver run coord`
// and `quiver run proxy` processes on one etcd (started with startEtcd),
// each on free ports, with bounded waits.
//
//   const etcd = await startEtcd();
//   const cl = await startCluster({ etcd, coords: 2, ttl: '2s' });
//   cl.address            // the first proxy, '127.0.0.1:P'
//   await cl.stop();      // every process it started (not etcd)
import fs from 'node:fs';
import net from 'node:net';
import { HOST, freePort, quiverBin, repoRoot, spawnServer } from './servers.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: HOST });
    const done = (ok) => { s.destroy(); resolve(ok); };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(500, () => done(false));
  });
}

async function waitPort(h, port, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!h.running()) throw new Error(`${h.name} exited:\n${h.output()}`);
    if (await canConnect(port)) return;
    await sleep(25);
  }
  throw new Error(`${h.name}: port ${port} not open within ${ms} ms:\n${h.output()}`);
}

/**
 * Starts one `quiver run <role>` on etcd.  Returns the server handle with
 * .port (gRPC port of the role) added.
 */
export async function startRole(role, { etcd, ttl = '10s', root = 'quiver/', extraArgs = [], name } = {}) {
  const bin = quiverBin();
  if (!fs.existsSync(bin)) throw new Error(`quiver binary not found at ${bin} (set QUIVER_BIN)`);
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const httpPort = await freePort();
    const portKey = role === 'coord' ? 'coord.port' : 'proxy.port';
    const args = ['run', role, '--set', `${portKey}=${port}`, '--set', `http.port=${httpPort}`,
      '--set', 'metakv.backend=etcd', '--set', `etcd.endpoints=${etcd.endpoint}`,
      '--set', `metakv.rootPath=${root}`, '--set', `session.ttl=${ttl}`,
      '--set', `${role}.listenAddress=127.0.0.1`, ...extraArgs];
    const h = spawnServer(name || `quiver-${role}`, bin, args, { cwd: repoRoot });
    try {
      await waitPort(h, port, 20000);
    } catch (e) {
      await h.stop();
      if (attempt < 3 && /in use/.test(h.output())) continue;
      throw e;
    }
    h.port = port;
    h.httpPort = httpPort;
    return h;
  }
}

/** Starts `coords` coords (the first becomes active) and `proxies` proxies. */
export async function startCluster({ etcd, coords = 1, proxies = 1, ttl = '10s', root, extraArgs = [] } = {}) {
  const started = [];
  const cl = {
    coords: [], proxies: [], address: null,
    /** Stops every process (proxies first); resolves to their exits. */
    async stop() {
      const exits = [];
      for (const h of started.reverse()) exits.push({ name: h.name, output: h.output(), ...(await h.stop()) });
      started.length = 0;
      return exits;
    },
  };
  try {
    for (let i = 0; i < coords; i++) {
      const h = await startRole('coord', { etcd, ttl, root, extraArgs, name: `coord${i}` });
      started.push(h);
      cl.coords.push(h);
      // Let the first one win the election before the next starts.
      if (i === 0) await waitFor(() => /active coord at/.test(h.output()), 15000, h);
    }
    for (let i = 0; i < proxies; i++) {
      const h = await startRole('proxy', { etcd, ttl, root, extraArgs, name: `proxy${i}` });
      started.push(h);
      cl.proxies.push(h);
    }
  } catch (e) {
    await cl.stop();
    throw e;
  }
  cl.address = `${HOST}:${cl.proxies[0]?.port}`;
  return cl;
}

/** Polls pred every 50 ms until true; throws after ms with h's output. */
export async function waitFor(pred, ms, h) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await sleep(50);
  }
  throw new Error(`condition not met within ${ms} ms${h ? `:\n${h.output()}` : ''}`);
}
