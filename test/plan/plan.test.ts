import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { BootPlan, firmwareOf } from '../../src/plan/index.js';

const YAML = `server: 10.77.0.1
interfaces: [lan0]
dhcp:
  subnets:
    - { subnet: 10.77.0.0/24, range: 10.77.0.100-10.77.0.199, router: 10.77.0.1 }
  user_classes:
    - { match: iPXE, ipxe: true }
    - { match: gPXE, ipxe: true }
http: { port: 8080 }
tftp:
  root: /srv/tftp
  quirks:
    - { arch: [7, 9], blksize_max: 1024, refuse_options: [tsize] }
    - { mac_prefix: "52:54:00", blksize_max: 1432 }
boot:
  bios: undionly.kpxe
  uefi: snponly.efi
  script: http://{http}/boot/{mac}.ipxe
iscsi:
  target: iqn.2010-01.lan.example:{name}
  initiator: iqn.2010-01.lan.example:initiator:{name}
rpl: { interfaces: [lan0], image: ipxe.pxe }
hosts:
  52:54:00:77:00:10: { name: pc01, ip: 10.77.0.10, boot: iscsi }
  52:54:00:77:00:11: { name: pc02, boot: local }
  52:54:00:77:00:12: { name: pc03, ipxe: false, bootfile: custom.kpxe }
  00:60:8c:00:00:00/24: { boot: script, rpl: true }
`;
const plan = new BootPlan(parseConfig(YAML, 'lanboot.yaml'));
const MAC = '52:54:00:77:00:10';
const PXE = { vendorClass: 'PXEClient:Arch:00000:UNDI:002001', serverAddress: '10.77.0.1' };

describe('firmware from option 93', () => {
  it('maps RFC 4578 codes, treating 7 and 9 alike (errata)', () => {
    expect([0, 6, 7, 9, 10, 11, 16, 42, undefined].map(firmwareOf)).toEqual([
      'bios', 'uefi32', 'uefi64', 'uefi64', 'arm32', 'arm64', 'uefi-http', 'unknown', 'unknown',
    ]);
  });
});

describe('BootPlan.dhcp', () => {
  it('hands a BIOS PXE ROM the BIOS chain bootfile by TFTP', () => {
    const a = plan.dhcp({ mac: MAC, arch: 0, ...PXE });
    expect(a).toMatchObject({ stage: 'pxe', boot: true, bootfile: 'undionly.kpxe', nextServer: '10.77.0.1', vendorClass: 'PXEClient', fixedIp: '10.77.0.10' });
  });

  it('asks PXE ROMs, and only them, to skip boot-server discovery (option 43 discovery control 8)', () => {
    expect(plan.dhcp({ mac: MAC, arch: 0, ...PXE }).discoveryControl).toBe(8);
    expect(plan.dhcp({ mac: MAC, arch: 0, userClasses: ['iPXE'], ...PXE }).discoveryControl).toBeUndefined();
    expect(plan.dhcp({ mac: MAC, arch: 16, vendorClass: 'HTTPClient:Arch:00016:UNDI:003001' }).discoveryControl).toBeUndefined();
    expect(plan.dhcp({ mac: 'aa:bb:cc:dd:ee:ff' }).discoveryControl).toBeUndefined();
  });

  it('hands UEFI x64 (arch 7 or 9) the UEFI bootfile', () => {
    expect(plan.dhcp({ mac: MAC, arch: 7, ...PXE }).bootfile).toBe('snponly.efi');
    expect(plan.dhcp({ mac: MAC, arch: 9, ...PXE }).bootfile).toBe('snponly.efi');
    expect(plan.dhcp({ mac: MAC, arch: 6, ...PXE }).bootfile).toBe('snponly.efi'); // uefi32 unset: falls back
  });

  it('gives iPXE (user-class iPXE) the script URL and no-pxedhcp, never the chain file again', () => {
    const a = plan.dhcp({ mac: MAC, arch: 0, userClasses: ['iPXE'], ipxeOptions: true, ...PXE });
    expect(a).toMatchObject({ stage: 'ipxe', bootfile: 'http://10.77.0.1:8080/boot/52:54:00:77:00:10.ipxe', ipxeNoPxeDhcp: true });
    expect(a.hostname).toBe('pc01');
    expect(a.initiatorIqn).toBe('iqn.2010-01.lan.example:initiator:pc01');
    expect(a.rootPath).toBeUndefined(); // handoff: script
  });

  it('treats option 175 without a user-class as iPXE (FlexBoot)', () => {
    expect(plan.dhcp({ mac: MAC, arch: 0, ipxeOptions: true, ...PXE }).stage).toBe('ipxe');
  });

  it('lets an explicit user-class that no rule marks as iPXE take precedence over 175', () => {
    const a = plan.dhcp({ mac: MAC, arch: 0, ipxeOptions: true, userClasses: ['PXE-chain'], ...PXE });
    expect(a).toMatchObject({ stage: 'pxe', bootfile: 'undionly.kpxe' });
    expect(a.reason).toMatch(/matches no iPXE rule/);
  });

  it('matches further user-class rules (gPXE)', () => {
    expect(plan.dhcp({ mac: MAC, userClasses: ['gPXE'], ...PXE }).stage).toBe('ipxe');
  });

  it('honours a per-host iPXE override and bootfile', () => {
    const a = plan.dhcp({ mac: '52:54:00:77:00:12', userClasses: ['iPXE'], arch: 0, ...PXE });
    expect(a).toMatchObject({ stage: 'pxe', bootfile: 'custom.kpxe' });
  });

  it('answers UEFI HTTP boot with a URL and HTTPClient', () => {
    const a = plan.dhcp({ mac: MAC, arch: 16, vendorClass: 'HTTPClient:Arch:00016:UNDI:003001', serverAddress: '10.77.0.1' });
    expect(a).toMatchObject({ stage: 'uefi-http', vendorClass: 'HTTPClient', bootfile: 'http://10.77.0.1:8080/snponly.efi' });
    // Its default follows boot.uefi: none there is none here, not a URL ending in /none.
    const none = new BootPlan(parseConfig(YAML.replace('uefi: snponly.efi', 'uefi: none'), 'lanboot.yaml'));
    expect(none.dhcp({ mac: MAC, arch: 16, vendorClass: 'HTTPClient:Arch:00016:UNDI:003001', serverAddress: '10.77.0.1' }).bootfile).toBeUndefined();
  });

  it('gives no boot answer to a host set to boot locally, nor to a non-PXE client', () => {
    expect(plan.dhcp({ mac: '52:54:00:77:00:11', arch: 0, ...PXE }).boot).toBe(false);
    expect(plan.dhcp({ mac: 'aa:bb:cc:dd:ee:ff' }).boot).toBe(false);
  });

  it('boots unknown PXE clients with the chain file (boot.unknown_clients)', () => {
    expect(plan.dhcp({ mac: 'aa:bb:cc:dd:ee:ff', arch: 0, ...PXE })).toMatchObject({ boot: true, bootfile: 'undionly.kpxe', fixedIp: undefined });
  });

  it('puts root-path (17) in the iPXE reply and empties the filename with handoff: dhcp', () => {
    const p = new BootPlan(parseConfig(YAML.replace('iscsi:\n', 'iscsi:\n  handoff: dhcp\n'), 'x.yaml'));
    const a = p.dhcp({ mac: MAC, userClasses: ['iPXE'], ...PXE });
    expect(a).toMatchObject({ bootfile: '', rootPath: 'iscsi:10.77.0.1::3260:1:iqn.2010-01.lan.example:pc01' });
  });

  it('never sends root-path in proxy mode (the script carries the handoff)', () => {
    const p = new BootPlan(parseConfig(YAML.replace('iscsi:\n', 'iscsi:\n  handoff: dhcp\n').replace('dhcp:\n', 'dhcp:\n  mode: proxy\n'), 'x.yaml'));
    const a = p.dhcp({ mac: MAC, userClasses: ['iPXE'], ...PXE });
    expect(a.rootPath).toBeUndefined();
    expect(a.bootfile).toMatch(/boot\/52:54:00:77:00:10\.ipxe$/);
  });

  it('in proxy mode boots PXE and HTTP boot clients only; everyone else is marked notPxe', () => {
    const p = new BootPlan(parseConfig(YAML.replace('dhcp:\n', 'dhcp:\n  mode: proxy\n'), 'x.yaml'));
    expect(p.dhcp({ mac: MAC, arch: 0, ...PXE })).toMatchObject({ boot: true, stage: 'pxe' });
    expect(p.dhcp({ mac: MAC, arch: 16, vendorClass: 'HTTPClient:Arch:00016:UNDI:003001' })).toMatchObject({ boot: true, stage: 'uefi-http' });
    for (const f of [{}, { arch: 0 }, { userClasses: ['iPXE'], ipxeOptions: true }, { vendorClass: 'MSFT 5.0' }]) {
      const a = p.dhcp({ mac: MAC, ...f });
      expect(a, JSON.stringify(f)).toMatchObject({ boot: false, notPxe: true });
      expect(a.reason).toMatch(/not a PXE client/);
    }
    // Authoritative mode still boots an iPXE client that sends no option 60.
    expect(plan.dhcp({ mac: MAC, userClasses: ['iPXE'] }).boot).toBe(true);
  });
});

describe('derived values', () => {
  it('derive every iSCSI value from the one host entry', () => {
    const d = plan.derive(MAC, { serverAddress: '10.77.0.1' })!;
    expect(d.iscsi).toEqual({
      portal: '10.77.0.1', port: 3260, lun: 1,
      target: 'iqn.2010-01.lan.example:pc01',
      initiator: 'iqn.2010-01.lan.example:initiator:pc01',
      rootPath: 'iscsi:10.77.0.1::3260:1:iqn.2010-01.lan.example:pc01',
      extraRootPaths: [],
    });
  });
  it('match MAC prefixes (longest wins) after exact entries', () => {
    expect(plan.host('00:60:8c:12:34:56')?.prefix_bits).toBe(24);
    expect(plan.host('00:60:8d:12:34:56')).toBeUndefined();
  });
});

describe('TFTP quirks and RPL', () => {
  it('applies every matching quirk, smallest cap wins', () => {
    expect(plan.tftpPolicy({ mac: MAC, arch: 7 })).toEqual({ blksizeMax: 1024, refuseOptions: ['tsize'] });
    expect(plan.tftpPolicy({ mac: MAC })).toEqual({ blksizeMax: 1432, refuseOptions: [] });
    expect(plan.tftpPolicy({ mac: '00:11:22:33:44:55' })).toEqual({ refuseOptions: [] });
  });
  it('answers RPL only for hosts that have an RPL image', () => {
    expect(plan.rpl(MAC)).toBeUndefined();
    const r = plan.rpl('00:60:8c:01:02:03')!;
    expect(r.image).toEqual({ files: [{ path: 'ipxe.pxe', offset: 0, load: 0x7c00 }], execute: 0x7c00 });
    expect(r).toMatchObject({ frameSize: 1500, blockSize: 1440 });
  });
});

describe('generated files', () => {
  it('expands every template variable in a host entry\'s kernel, initrd, cmdline and chain, {tftp} included', () => {
    const p = new BootPlan(
      parseConfig(
        `server: 10.77.0.1
tftp: { root: /srv/tftp, port: 6969 }
hosts:
  52:54:00:77:00:20: { name: pc20, ip: 10.77.0.20, boot: linux, kernel: "tftp://{tftp}/vmlinuz-{name}", initrd: "tftp://{tftp}/initrd", cmdline: "ip={ip} srv={server} boot={tftp}" }
  52:54:00:77:00:21: { name: pc21, boot: chain, chain: "tftp://{tftp}/{mac_hex}.ipxe" }
`,
        'lanboot.yaml',
      ),
    );
    const linux = p.script('52:54:00:77:00:20', { serverAddress: '10.77.0.1' });
    expect(linux).toContain('kernel tftp://10.77.0.1:6969/vmlinuz-pc20 initrd=initrd ip=10.77.0.20 srv=10.77.0.1 boot=10.77.0.1:6969');
    expect(linux).toContain('initrd tftp://10.77.0.1:6969/initrd');
    expect(p.script('52:54:00:77:00:21', { serverAddress: '10.77.0.1' })).toContain('chain --autofree tftp://10.77.0.1:6969/525400770021.ipxe');
    // No template left unexpanded (iPXE's own ${var} aside).
    expect(linux + p.script('52:54:00:77:00:21', { serverAddress: '10.77.0.1' })).not.toMatch(/(^|[^$])\{[a-z_]+\}/m);
  });

  it('routes the script path from the boot.script template to the MAC in it', () => {
    const f = plan.file('/boot/52:54:00:77:00:10.ipxe', { serverAddress: '10.77.0.1' })!;
    expect(f.mac).toBe(MAC);
    expect(String(f.body)).toMatch(/^#!ipxe/);
    expect(String(f.body)).toContain('iqn.2010-01.lan.example:pc01');
    expect(plan.file('undionly.kpxe')).toBeUndefined();
  });
});

describe('reset on boot', () => {
  it('calls the reset endpoint before the disk is attached, only when not already hooked by option 17', () => {
    const p = new BootPlan(parseConfig(YAML.replace('{ name: pc01, ip: 10.77.0.10, boot: iscsi }', '{ name: pc01, ip: 10.77.0.10, boot: iscsi, reset: [/usr/local/bin/reset-cow, "{name}"], reset_on_boot: true }'), 'x.yaml'));
    const s = p.script(MAC, { serverAddress: '10.77.0.1' }).split('\n');
    const reset = s.findIndex((l) => l.startsWith('chain --autofree http://10.77.0.1:8080/reset/52:54:00:77:00:10'));
    const hookedCheck = s.findIndex((l) => l.startsWith('iseq x${root-path}'));
    const attach = s.findIndex((l) => l.startsWith('sanhook --drive 0x80'));
    expect(reset).toBeGreaterThan(hookedCheck);
    expect(reset).toBeLessThan(attach);
    expect(() => parseConfig(YAML.replace('boot: iscsi }', 'boot: iscsi, reset_on_boot: true }'), 'x.yaml')).toThrow(/reset_on_boot needs reset/);
  });

  it('puts the token the wiring issues into every reset URL, asked for this MAC only, and only for hosts with a reset', () => {
    const p = new BootPlan(
      parseConfig(
        YAML.replace('{ name: pc01, ip: 10.77.0.10, boot: iscsi }', '{ name: pc01, ip: 10.77.0.10, boot: menu, menu: [iscsi, local], reset: [/bin/true], reset_on_boot: true }'),
        'x.yaml',
      ),
    );
    const asked: string[] = [];
    const resetToken = (m: string) => (asked.push(m), '1700000000.00ff');
    const s = p.script(MAC, { serverAddress: '10.77.0.1', resetToken });
    const chains = s.split('\n').filter((l) => l.includes('/reset/'));
    expect(chains.length).toBe(2); // reset_on_boot and the menu item
    for (const l of chains) expect(l).toContain(`http://10.77.0.1:8080/reset/${MAC}?token=1700000000.00ff `);
    expect(asked).toEqual([MAC]);
    expect(p.script('52:54:00:77:00:11', { serverAddress: '10.77.0.1', resetToken })).not.toContain('token=');
    expect(asked).toEqual([MAC]);
  });
});

describe('user-class rules', () => {
  it('keep iPXE recognised when the operator only added a rule for another name', () => {
    const p = new BootPlan(parseConfig(YAML.replace('    - { match: iPXE, ipxe: true }\n', ''), 'x.yaml'));
    expect(p.dhcp({ mac: MAC, userClasses: ['iPXE'], ...PXE }).stage).toBe('ipxe');
    const off = new BootPlan(parseConfig(YAML.replace('{ match: iPXE, ipxe: true }', '{ match: iPXE, ipxe: false }'), 'x.yaml'));
    expect(off.dhcp({ mac: MAC, userClasses: ['iPXE'], ...PXE }).stage).toBe('pxe'); // an explicit rule still wins
  });
});
