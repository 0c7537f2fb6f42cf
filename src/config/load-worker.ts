/**
 * `lanboot start` reads and validates its config file, at start and at each
 * reload, in a worker thread that exits afterwards:
 *  - a big file (20,000 hosts: about a second of CPU) never stops the event
 *    loop that answers DHCP, TFTP, HTTP and RPL;
 *  - zod, the YAML parser and the garbage of a validation never occupy the
 *    server's own heap (about 10 MB of idle RSS).
 * The config crosses as a structured clone (plain data). The same module is
 * the worker's entry point, so it is found from src/ (tsx) and dist/ alike.
 *
 *   const config = await loadConfigInWorker(file); // rejects with ConfigRefused (file:line:col text) or Error
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { Config } from './types.js';

/** The config is invalid; `message` is the loader's file:line:col report. */
export class ConfigRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigRefused';
  }
}

interface Answer {
  config?: Config;
  refused?: string;
  failed?: string;
}

const KEY = 'lanbootConfigFile';

if (!isMainThread && typeof (workerData as Record<string, unknown> | null)?.[KEY] === 'string') {
  const { loadConfig, ConfigError } = await import('./load.js');
  let answer: Answer;
  try {
    answer = { config: loadConfig((workerData as Record<string, string>)[KEY]!) };
  } catch (e) {
    answer = e instanceof ConfigError ? { refused: e.message } : { failed: (e as Error).stack ?? String(e) };
  }
  parentPort!.postMessage(answer);
}

export function loadConfigInWorker(file: string): Promise<Config> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const self = import.meta.url;
    // From sources (tests, `npm run dev`) tsx's loader is not inherited by workers on Node 20: register it there first.
    const w = self.endsWith('.ts')
      ? new Worker(`import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((t) => t.register()).then(() => import(${JSON.stringify(self)}))`, {
          eval: true,
          workerData: { [KEY]: file },
        })
      : new Worker(new URL(self), { workerData: { [KEY]: file } });
    w.once('message', (a: Answer) => {
      settled = true;
      if (a.config) resolve(a.config);
      else if (a.refused !== undefined) reject(new ConfigRefused(a.refused));
      else reject(new Error(`config ${file}: ${a.failed}`));
    });
    w.once('error', (e) => {
      settled = true;
      reject(e);
    });
    w.once('exit', (code) => {
      if (!settled) reject(new Error(`config ${file}: the loader thread exited (${code}) without an answer`));
    });
  });
}
