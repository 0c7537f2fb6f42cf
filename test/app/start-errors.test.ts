/**
 * A service that cannot start says which one, what is in the way and the fix
 * (issue 10 item 7): a port dnsmasq still holds, a packet socket without
 * CAP_NET_RAW, an interface that does not exist, a missing TFTP root.
 */
import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { Telemetry } from '../../src/telemetry.js';
import { silent } from '../../src/log.js';
import { StartError, startHint } from '../../src/start-errors.js';

let dir: string;
let app: App | undefined;
afterEach(async () => {
  await app?.stop();
  app = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function failure(yaml: string): Promise<StartError> {
  app = new App(parseConfig(yaml, join(dir, 'lanboot.yaml')), { telemetry: new Telemetry(), log: silent });
  const e = await app.start().then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(StartError);
  return e as StartError;
}

describe('start failures name the service and the fix', () => {
  it('a DHCP port another server holds points at dnsmasq', async () => {
    dir = mkdtempSync(join(tmpdir(), 'lb-starterr-'));
    const holder = dgram.createSocket('udp4');
    await new Promise<void>((r) => holder.bind(0, '127.0.0.1', () => r()));
    const port = holder.address().port;
    try {
      const e = await failure(`state_dir: ${dir}\ndhcp:\n  address: 127.0.0.1\n  port: ${port}\n  proxy_port: ${port + 1}\n  subnets:\n    - { subnet: 127.0.0.0/8, range: 127.77.0.100-127.77.0.110 }\n`);
      expect(e.svc).toBe('dhcp');
      expect(e.code).toBe('EADDRINUSE');
      expect(e.message).toMatch(new RegExp(`^dhcp: .*EADDRINUSE.*Port ${port} is in use: is dnsmasq .* still running\\? Stop its DHCP`));
    } finally {
      holder.close();
    }
  });

  it('a missing TFTP root says to create it', async () => {
    dir = mkdtempSync(join(tmpdir(), 'lb-starterr-'));
    const root = join(dir, 'no-such-root');
    const e = await failure(`state_dir: ${dir}\ntftp: { address: 127.0.0.1, port: ${20000 + Math.floor(Math.random() * 20000)}, root: ${root} }\n`);
    expect(e.svc).toBe('tftp');
    expect(e.message).toContain(`${root} does not exist: create it and put the boot files there, or point tftp.root at them`);
  });

  it('an interface that does not exist names it and the key to fix', async () => {
    dir = mkdtempSync(join(tmpdir(), 'lb-starterr-'));
    const e = await failure(`state_dir: ${dir}\ninterfaces: [lbnosuch0]\ndhcp:\n  address: 127.0.0.1\n  port: ${20000 + Math.floor(Math.random() * 20000)}\n  subnets:\n    - { subnet: 127.0.0.0/8, range: 127.77.0.100-127.77.0.110 }\n`);
    expect(e.svc).toBe('dhcp');
    expect(e.message).toMatch(/no network interface "lbnosuch0" .*fix interfaces/);
  });

  it('hints for privileges and foreign addresses', () => {
    const err = (code: string, message = code) => Object.assign(new Error(message), { code });
    expect(startHint('rpl', err('EPERM', 'packet socket on lan0: EPERM'))).toMatch(/CAP_NET_RAW/);
    expect(startHint('tftp', err('EACCES'), { port: 69 })).toMatch(/CAP_NET_BIND_SERVICE/);
    expect(startHint('http', err('EADDRNOTAVAIL'), { address: '10.9.9.9' })).toMatch(/10\.9\.9\.9 is not an address of this machine: fix http\.address/);
    expect(startHint('http', err('EADDRINUSE'), { port: 80 })).toMatch(/uhttpd/);
    expect(startHint('tftp', err('EADDRINUSE'), { port: 69 })).toMatch(/enable-tftp/);
  });
});
