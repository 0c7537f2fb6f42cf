/**
 * log.format: which format when, and what the text form says: one line per
 * event, the client's MAC on every line that has one, terminal-safe, and the
 * JSON form untouched.
 */
import { execFile } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { BootPlan } from '../../src/plan/index.js';
import { LeaseStore } from '../../src/leases/store.js';
import { DhcpService, type Ingress } from '../../src/dhcp/service.js';
import { Telemetry } from '../../src/telemetry.js';
import { LineSink, defaultLogFormat, makeLogger, type LogFormat } from '../../src/log.js';
import { formatEvent, textLine, textLineTime } from '../../src/log-text.js';
import { traceLines } from '../../src/trace.js';
import { macToChaddr, type DhcpMessage } from '../../src/codec/dhcp.js';
import { ip, str, u8 } from '../../src/codec/dhcp-options.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;
const MAC_LINE = / \(?52:54:00:77:00:11\)?( |$)/;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lb-logtext-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('format selection', () => {
  it('is JSON on a file and on a pipe, text on a terminal', async () => {
    const fd = openSync(join(dir, 'f'), 'w');
    expect(defaultLogFormat(fd)).toBe('json');
    closeSync(fd);
    const node = `${process.execPath} --import tsx -e "import('./src/log.ts').then((l) => console.log('format=' + l.defaultLogFormat()))"`;
    const piped = await promisify(execFile)('/bin/sh', ['-c', node], { cwd: ROOT });
    expect(piped.stdout).toContain('format=json');
    // script(1) runs the command on a pseudo-terminal, as a person's shell does.
    const tty = await promisify(execFile)('script', ['-qec', node, '/dev/null'], { cwd: ROOT });
    expect(tty.stdout).toContain('format=text');
  });

  it('the config key takes text or json; unset means "decide at start"', () => {
    expect(parseConfig('log: { format: text }\n', join(dir, 'a.yaml')).log.format).toBe('text');
    expect(parseConfig('log: { level: debug }\n', join(dir, 'b.yaml')).log.format).toBeUndefined();
    expect(() => parseConfig('log: { format: pretty }\n', join(dir, 'c.yaml'))).toThrow(/log\.format.*text, json/s);
  });
});

/** A DHCP service logging through makeLogger in the given format, as `lanboot start` does. */
async function dhcpWith(format: LogFormat) {
  const cfg = parseConfig(
    `server: 10.77.0.1
interfaces: [lb-x0]
state_dir: ${dir}
dhcp:
  subnets:
    - { subnet: 10.77.0.0/24, range: 10.77.0.100-10.77.0.120, router: 10.77.0.1, lease: 1h }
boot: { bios: undionly.kpxe, uefi: snponly.efi, script: "http://{server}/boot/{mac}.ipxe" }
hosts:
  52:54:00:77:00:10: { name: pc01 }
`,
    join(dir, `${format}.yaml`),
  );
  const lines: string[] = [];
  const log = makeLogger('info', { write: (l: string) => void lines.push(l) }, format).child({ svc: 'dhcp' });
  const leases = new LeaseStore({ file: join(dir, `${format}.leases`), subnets: cfg.dhcp!.subnets });
  await leases.open();
  const svc = new DhcpService({ config: cfg.dhcp!, plan: new BootPlan(cfg), leases, telemetry: new Telemetry(), log, server: cfg.server });
  return { svc, leases, lines };
}

const lan: Ingress = { via: 'packet', iface: 'lb-x0', localAddress: '10.77.0.1', addresses: ['10.77.0.1'], localPort: 67, srcAddress: '0.0.0.0', srcPort: 68, broadcast: true };
function msg(mac: string, type: number, options: Array<[number, Buffer]> = [], over: Partial<DhcpMessage> = {}): DhcpMessage {
  return {
    op: 1, htype: 1, hlen: 6, hops: 0, xid: 7, secs: 0, flags: 0, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0',
    giaddr: '0.0.0.0', chaddr: macToChaddr(mac), sname: '', file: '', options: new Map<number, Buffer>([[53, u8(type)], ...options]), ...over,
  };
}
const PXE_BIOS: Array<[number, Buffer]> = [[60, str('PXEClient:Arch:00000:UNDI:002001')], [93, Buffer.from([0, 0])]];

/** The same exchanges for each format: a PXE ROM's DORA, a client naming itself, a NAK, a RELEASE. */
async function exchanges(format: LogFormat): Promise<string[]> {
  const { svc, leases, lines } = await dhcpWith(format);
  try {
    const offer = await svc.handle(msg('52:54:00:77:00:10', 1, PXE_BIOS), lan);
    const yi = offer!.message.yiaddr;
    await svc.handle(msg('52:54:00:77:00:10', 3, [...PXE_BIOS, [50, ip(yi)], [54, ip('10.77.0.1')]]), lan);
    const o2 = await svc.handle(msg('52:54:00:77:00:11', 1, [[12, str('kiosk\x1b[2J')]]), lan);
    await svc.handle(msg('52:54:00:77:00:11', 3, [[12, str('kiosk\x1b[2J')], [50, ip(o2!.message.yiaddr)], [54, ip('10.77.0.1')]]), lan);
    await svc.handle(msg('52:54:00:77:00:12', 3, [[50, ip('10.99.0.5')]]), lan); // INIT-REBOOT on the wrong network: NAK
    await svc.handle(msg('52:54:00:77:00:11', 7, [[54, ip('10.77.0.1')]], { ciaddr: o2!.message.yiaddr }), lan);
  } finally {
    await leases.close();
  }
  return lines;
}

describe('text lines from the DHCP service', () => {
  it('one line per event, each with its MAC, in dnsmasq form; the JSON lines say the same events', async () => {
    const json = (await exchanges('json')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const text = await exchanges('text');
    expect(text).toHaveLength(json.length);
    expect(json.map((e) => e.event)).toEqual(['dhcp.offer', 'dhcp.ack', 'dhcp.offer', 'dhcp.ack', 'dhcp.nak', 'dhcp.release']);
    for (const [i, l] of text.entries()) {
      expect(l.endsWith('\n') && !l.slice(0, -1).includes('\n')).toBe(true);
      expect(l).toContain(String(json[i]!.mac));
      expect(l).not.toMatch(CONTROL);
    }
    expect(text[0]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} DHCPOFFER\(lb-x0\) 10\.77\.0\.1\d\d 52:54:00:77:00:10 pc01 bios undionly\.kpxe\n$/);
    expect(text[1]).toMatch(/ DHCPACK\(lb-x0\) 10\.77\.0\.1\d\d 52:54:00:77:00:10 pc01 bios undionly\.kpxe\n$/);
    // A client's own name (option 12) is printed escaped, never as terminal control.
    expect(text[3]).toMatch(/ DHCPACK\(lb-x0\) 10\.77\.0\.1\d\d 52:54:00:77:00:11 kiosk\\x1b\[2J\n$/);
    expect(text[4]).toMatch(/ DHCPNAK\(lb-x0\) 10\.99\.0\.5 52:54:00:77:00:12 10\.99\.0\.5 is not on this network/);
    expect(text[5]).toMatch(/ DHCPRELEASE\(lb-x0\) 10\.77\.0\.1\d\d 52:54:00:77:00:11\n$/);
    // The JSON form carries the interface and the name the text prints; the rest as before.
    expect(json[1]).toMatchObject({ level: 30, svc: 'dhcp', event: 'dhcp.ack', mac: '52:54:00:77:00:10', iface: 'lb-x0', hostname: 'pc01', state: 'selecting', stage: 'pxe', firmware: 'bios', bootfile: 'undionly.kpxe', msg: 'dhcp.ack' });
    expect(typeof json[1]!.time).toBe('string');
  });
});

const at = (ev: Record<string, unknown>) => formatEvent({ level: 30, time: '2026-05-01T10:00:00.000Z', ...ev });

describe('formatEvent', () => {
  it('TFTP, HTTP and RPL boot steps', () => {
    const mac = '52:54:00:77:00:10';
    expect(at({ svc: 'tftp', event: 'tftp.done', mac, client: '10.77.0.101', op: 'RRQ', file: 'undionly.kpxe', bytes: 71893, duration_ms: 213.4, retransmissions: 0 })).toBe(
      'TFTP sent undionly.kpxe to 10.77.0.101 (52:54:00:77:00:10) 70.2 KiB in 0.2 s',
    );
    expect(at({ svc: 'tftp', event: 'tftp.failed', mac, client: '10.77.0.101', op: 'RRQ', file: 'big.img', outcome: 'timeout', bytes: 2048, duration_ms: 30000, detail: 'no ACK' })).toBe(
      'TFTP failed sending big.img to 10.77.0.101 (52:54:00:77:00:10): timeout (no ACK) after 2.0 KiB in 30 s',
    );
    expect(at({ svc: 'tftp', event: 'tftp.refused', mac, client: '10.77.0.101', file: 'nope.efi', reason: 'not-found', code: 1, msg: 'File not found' })).toBe(
      'TFTP refused nope.efi to 10.77.0.101 (52:54:00:77:00:10): File not found',
    );
    expect(at({ svc: 'http', event: 'http.script', mac, client: '10.77.0.101', method: 'GET', path: `/boot/${mac}.ipxe`, status: 200, msg: 'boot script' })).toBe(
      `HTTP script /boot/${mac}.ipxe to 10.77.0.101 (${mac})`,
    );
    expect(at({ svc: 'dhcp', event: 'dhcp.proxy_offer', mac, iface: 'lan0', stage: 'pxe', firmware: 'uefi64', bootfile: 'snponly.efi' })).toBe(`PXE(lan0) ${mac} proxy offer uefi64 snponly.efi`);
    const load = { svc: 'rpl', event: 'rpl.load', mac: '00:60:8c:00:00:01', host: 'isa1', image: 'rpl.image', bytes: 71000, blocks: 50, duration_ms: 1234 };
    expect(at({ ...load, acked_blocks: 50, confirmed: true })).toBe('RPL load rpl.image to 00:60:8c:00:00:01 (isa1) 69.3 KiB in 1.2 s, confirmed');
    expect(at({ ...load, acked_blocks: 49, confirmed: false })).toBe(
      'RPL load rpl.image to 00:60:8c:00:00:01 (isa1) 69.3 KiB in 1.2 s, not confirmed (the client acknowledged 49 of 50 blocks)',
    );
  });

  it('core start, reload and stop', () => {
    expect(at({ svc: 'core', event: 'core.start', pid: 42, hosts: 2, config: '/etc/lanboot/lanboot.yaml', msg: 'lanboot started' })).toBe(
      'lanboot started (pid 42, 2 hosts, config /etc/lanboot/lanboot.yaml)',
    );
    expect(at({ svc: 'core', event: 'core.reload', hosts: 3, notes: [], msg: 'config reloaded from /etc/lanboot/lanboot.yaml' })).toBe(
      'lanboot config reloaded from /etc/lanboot/lanboot.yaml (3 hosts)',
    );
    expect(at({ svc: 'core', event: 'core.stop', signal: 'SIGTERM', msg: 'stopping' })).toBe('lanboot stopping (SIGTERM)');
  });

  it('warnings and errors say so, with their hint once, and the fields the message leaves out', () => {
    const hint = 'port 67 is in use: is dnsmasq (or isc-dhcp-server, kea, odhcpd) still running? Stop its DHCP';
    // The start error's message already carries the hint (capitalised): not printed twice.
    expect(at({ level: 50, svc: 'core', event: 'core.start_failed', service: 'dhcp', code: 'EADDRINUSE', hint, msg: 'cannot start: dhcp: bind EADDRINUSE 0.0.0.0:67. Port 67 is in use: is dnsmasq (or isc-dhcp-server, kea, odhcpd) still running? Stop its DHCP' })).toBe(
      'lanboot error: cannot start: dhcp: bind EADDRINUSE 0.0.0.0:67. Port 67 is in use: is dnsmasq (or isc-dhcp-server, kea, odhcpd) still running? Stop its DHCP',
    );
    expect(at({ level: 50, svc: 'tftp', event: 'tftp.x', hint: 'create /srv/tftp', msg: 'root missing' })).toBe('TFTP error: root missing; create /srv/tftp');
    expect(at({ level: 40, svc: 'dhcp', event: 'dhcp.conflict', mac: '52:54:00:77:00:10', ip: '10.77.0.105', msg: 'address answers ARP; quarantined' })).toBe(
      'DHCP warning: address answers ARP; quarantined mac=52:54:00:77:00:10 ip=10.77.0.105',
    );
    // RPL's messages start with "rpl: "; the head says RPL already.
    expect(at({ level: 40, svc: 'rpl', event: 'rpl.refused', mac: '00:60:8c:00:00:01', iface: 'lan0', reason: 'busy', msg: 'rpl: not answering this client now: 8 loads are running (rpl.max_loads)' })).toBe(
      'RPL warning: not answering this client now: 8 loads are running (rpl.max_loads) mac=00:60:8c:00:00:01 iface=lan0 reason=busy',
    );
    expect(at({ level: 20, svc: 'dhcp', event: 'dhcp.drop', reason: 'pool_exhausted', mac: '52:54:00:77:00:10', msg: 'dropped' })).toBe('DHCP debug: dropped mac=52:54:00:77:00:10 reason=pool_exhausted');
  });

  it('escapes what clients send and quotes it when it has spaces, so a line stays one line and its fields stay apart', () => {
    const l = at({ svc: 'tftp', event: 'tftp.refused', client: '10.77.0.9', file: 'a b\n2026-01-01 00:00:00.000 DHCPACK fake\x1b]0;x\x07', reason: 'not-found', msg: 'File not found' });
    expect(l).not.toMatch(CONTROL);
    expect(l).toContain('"a b\\n2026-01-01 00:00:00.000 DHCPACK fake\\x1b]0;x\\x07"');
  });

  it('a line that is not JSON passes unchanged; the time is local', () => {
    expect(textLine('not json\n')).toBe('not json\n');
    const l = textLine(JSON.stringify({ level: 30, time: '2026-05-01T10:00:00.123Z', svc: 'core', event: 'core.stop', msg: 'stopping' }) + '\n');
    const d = new Date('2026-05-01T10:00:00.123Z');
    const p = (n: number) => String(n).padStart(2, '0');
    expect(l.slice(0, 24)).toBe(`${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:00.123 `);
    expect(textLineTime(l)).toBe(d.getTime());
  });
});

describe('the sink under text', () => {
  it("the sink's own dropped-lines notice is a text line too", async () => {
    const path = join(dir, 'log');
    const fd = openSync(path, 'w');
    const sink = new LineSink(fd, 400);
    const log = makeLogger('info', sink, 'text').child({ svc: 'dhcp' });
    for (let i = 0; i < 20; i++) log.info({ event: 'dhcp.release', mac: '52:54:00:77:00:10', ip: `10.77.0.${i}` }, 'dhcp.release');
    await new Promise((r) => setImmediate(r));
    log.info({ event: 'dhcp.release', mac: '52:54:00:77:00:10', ip: '10.77.0.99' }, 'dhcp.release');
    await new Promise((r) => setImmediate(r));
    closeSync(fd);
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    expect(sink.dropped).toBeGreaterThan(0);
    expect(lines.every((l) => !l.startsWith('{'))).toBe(true);
    expect(lines.at(-1)).toMatch(new RegExp(` lanboot warning: log writer fell behind: ${sink.dropped} lines dropped$`));
  });
});

describe('lanboot trace on both formats', () => {
  it('finds the same machine in a JSON log and in a text log, and keeps the text lines as written', async () => {
    const json = await exchanges('json');
    const text = await exchanges('text');
    const fromJson = traceLines(json.join(''), '52-54-00-77-00-11');
    const fromText = traceLines(text.join(''), '52-54-00-77-00-11');
    expect(fromJson.map((l) => l.split(/\s+/)[2])).toEqual(['dhcp.offer', 'dhcp.ack', 'dhcp.release']);
    expect(fromText).toHaveLength(3);
    expect(fromText.map((l) => / (DHCP\w+)\(/.exec(l)?.[1])).toEqual(['DHCPOFFER', 'DHCPACK', 'DHCPRELEASE']);
    for (const l of fromText) expect(l).toMatch(MAC_LINE);
    expect(traceLines(text.join(''), '52:54:00:77:00:1')).toEqual([]); // a prefix is not a MAC
    // JSON as `journalctl -u lanboot` prints it: behind a syslog prefix.
    const journal = json.map((l) => `Dec 03 06:50:04 router lanboot[812]: ${l}`).join('');
    expect(traceLines(journal, '52:54:00:77:00:11')).toEqual(fromJson);
  });

  it('`lanboot trace -l` reads a text log', async () => {
    const text = await exchanges('text');
    const f = join(dir, 'text.log');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(f, text.join(''));
    const r = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'trace', '52:54:00:77:00:10', '-l', f], { cwd: ROOT });
    const out = r.stdout.trim().split('\n');
    expect(out).toHaveLength(2);
    expect(out[0]).toMatch(/ DHCPOFFER\(lb-x0\) .* 52:54:00:77:00:10 pc01 bios undionly\.kpxe$/);
  });
});
