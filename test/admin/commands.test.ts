import { afterEach, describe, expect, it } from 'vitest';
import type { Config, HostConfig } from '../../src/config/types.js';
import { Telemetry } from '../../src/telemetry.js';
import { silent } from '../../src/log.js';
import { AdminServer } from '../../src/admin/server.js';
import { hostsCommand, installServiceCommand, leasesCommand } from '../../src/admin/commands.js';

const sink = () => {
  const s = { text: '', write: (x: string) => (s.text += x) };
  return s;
};
let server: AdminServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

const host: HostConfig = { mac: '52:54:00:77:00:10', prefix_bits: 48, name: 'pc01', boot: 'iscsi', line: 3 } as HostConfig;
const cfg = (admin: Config['admin']): Config =>
  ({ file: 'lanboot.yaml', admin, hosts: [host], boot: { default: 'script' } }) as unknown as Config;

describe('CLI commands', () => {
  it('leases and hosts ask the running server; a stopped server is a clear error with its own exit code', async () => {
    server = new AdminServer(
      { address: '127.0.0.1', port: 0 },
      { telemetry: new Telemetry(), leases: () => [{ mac: '52:54:00:77:00:10', ip: '10.77.0.150', state: 'bound', expires: Date.now() + 3600_000 }] },
      { log: silent },
    );
    const port = (await server.start()).port;
    const c = cfg({ address: '127.0.0.1', port });
    const out = sink();
    expect(await leasesCommand(c, {}, out, sink())).toBe(0);
    expect(out.text).toMatch(/^10\.77\.0\.150\s+52:54:00:77:00:10\s+-\s+bound\s+in (59m 59s|1h 0m)$/m);
    const hosts = sink();
    expect(await hostsCommand(c, {}, hosts, sink())).toBe(0);
    expect(hosts.text).toMatch(/^52:54:00:77:00:10\s+pc01\s+\(10\.77\.0\.150\)\s+iscsi/m);
    const json = sink();
    await leasesCommand(c, { json: true }, json, sink());
    expect(JSON.parse(json.text)[0].ip).toBe('10.77.0.150');

    await server.stop();
    const err = sink();
    expect(await leasesCommand(c, {}, sink(), err)).toBe(3);
    expect(err.text).toMatch(/not answering on http:\/\/127\.0\.0\.1:\d+/);
    const h2 = sink();
    expect(await hostsCommand(c, {}, h2, sink())).toBe(0); // still lists the config
    expect(h2.text).toContain('pc01');
    const off = sink();
    expect(await leasesCommand(cfg(null), {}, sink(), off)).toBe(2); // exit 2: the config, not a failed run
    expect(off.text).toContain('lanboot.yaml: admin is off; add `admin: {}`');
  });

  it('install-service --print and a bad --init', async () => {
    const out = sink();
    const err = sink();
    expect(await installServiceCommand({ print: true, init: 'systemd' }, out, err)).toBe(0);
    expect(out.text).toContain('AmbientCapabilities=CAP_NET_BIND_SERVICE CAP_NET_RAW');
    expect(err.text).toContain('systemctl enable --now lanboot');
    expect(await installServiceCommand({ print: true, init: 'upstart' }, sink(), sink())).toBe(2);
  });
});
