/**
 * Config reload without stopping the services: reading, parsing and validating
 * a big file (20,000 hosts: about a second of CPU) runs in a worker thread, and
 * only the finished Config comes back to the event loop that answers DHCP,
 * TFTP, HTTP and RPL. The same module is the worker's entry point, so it is
 * found from src/ (tsx) and dist/ alike.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { ConfigError, loadConfig, type ConfigProblem } from './load.js';
import type { Config } from './types.js';

type Reply = { ok: true; config: Config } | { ok: false; problems?: ConfigProblem[]; message: string };

const FLAG = 'lanbootConfigLoad';

/** loadConfig(file) in a worker thread; rejects with ConfigError exactly as loadConfig throws it. */
export function loadConfigInWorker(file: string): Promise<Config> {
  return new Promise((resolve, reject) => {
    const w = startWorker({ [FLAG]: file });
    let settled = false;
    w.once('message', (r: Reply) => {
      settled = true;
      if (r.ok) resolve(r.config);
      else reject(r.problems ? new ConfigError(r.problems) : new Error(r.message));
    });
    w.once('error', (e) => {
      settled = true;
      reject(e);
    });
    w.once('exit', (code) => {
      if (!settled) reject(new Error(`config loader thread exited with code ${code}`));
    });
  });
}

function startWorker(data: unknown): Worker {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new Worker(new URL(self), { workerData: data });
  // Run from src/ by tsx (dev, tests): Node 20 does not hand the parent's loader hooks to a
  // worker, so the worker registers tsx itself before importing this module.
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(tsx)}).then((t) => t.register()).then(() => import(${JSON.stringify(self)}))`;
  return new Worker(code, { eval: true, workerData: data });
}

if (!isMainThread && workerData && typeof workerData[FLAG] === 'string') {
  let reply: Reply;
  try {
    reply = { ok: true, config: loadConfig(workerData[FLAG] as string) };
  } catch (e) {
    reply = e instanceof ConfigError ? { ok: false, problems: e.problems, message: e.message } : { ok: false, message: (e as Error).message };
  }
  parentPort!.postMessage(reply);
}
