/**
 * End to end on real firmware: QEMU (TCG) whose NIC ROM is Debian's iPXE (or
 * OVMF's own PXE client), lanboot's DHCP, TFTP and HTTP services
 * (`lanboot start --config FILE`, compiled) in a server namespace, and tgtd
 * exporting a tiny disk whose boot sector prints a per-run marker to COM1.
 * A scenario passes only when that marker appears on the VM's serial port,
 * i.e. iPXE really logged in to the target and booted the LUN.
 *
 * Scenarios: (a) script by HTTP, (b) script by TFTP, (c) a first DHCP that
 * is not iPXE (typed into the ROM's shell: another user-class, DHCP, chain
 * the bootfile) -> undionly.kpxe by TFTP -> iPXE -> script -> iSCSI,
 * (d) handoff by DHCP option 17 (no script at all), (e) UEFI: OVMF's PXE ->
 * snponly.efi by TFTP -> iPXE -> script over HTTP -> sanboot of a disk whose
 * EFI system partition holds a tiny BOOTX64.EFI that prints the marker through
 * ConOut (OVMF mirrors it on the serial port),
 * (f) the menu's "reset" item: iPXE GETs /reset/<mac>, lanboot runs the
 * host's reset argv (copies a pristine image over the host's disk), and the
 * SAN boot that follows prints the pristine disk's marker, not the old one,
 * (g) proxyDHCP next to another DHCP server (dnsmasq on the LAN bridge, no
 * PXE options): the address comes from it, the script URL from lanboot, and
 * the script carries the whole iSCSI handoff (option 17 cannot be delivered),
 * (h) a disk image straight from lanboot's HTTP root (`boot: chain` to an
 * .img): iPXE reads it with HEAD + Range requests, a real client of them.
 */
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootDiskImage, efiMarkerApp, espDiskImage } from '../helpers/e2e-disk.js';
import { e2eMissing, LanbootProc, makeNet, SerialVm, SERVER_IP, startRa, tempDir, Tgt, type E2eNet } from '../helpers/e2e.js';
import { NetnsScope } from '../helpers/netns.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const CLI = join(ROOT, 'dist/src/cli.js');
const BIOS_MAC = '52:54:00:77:e2:01';
const UEFI_MAC = '52:54:00:77:e2:02';
const TARGET = 'iqn.2026-01.lanboot.e2e:pc01';
const missing = e2eMissing(CLI);

interface Scenario {
  script: 'http' | 'tftp';
  handoff: 'script' | 'dhcp';
  /** dhcp.mode: proxy next to another DHCP server that hands out the addresses. */
  proxy?: boolean;
}

function config(dir: string, net: E2eNet, s: Scenario, n: number, biosHost?: string): string {
  const script = s.script === 'http' ? 'http://{http}/boot/{mac}.ipxe' : 'tftp://{server}/boot/{mac}.ipxe';
  return `# e2e scenario ${n}: script by ${s.script}, handoff ${s.handoff}
server: ${SERVER_IP}
interfaces: [${net.srvIf}]
state_dir: ${join(dir, `state-${n}`)}
log: { level: debug }
dhcp:
  mode: ${s.proxy ? 'proxy' : 'authoritative'}
  subnets:
    - ${s.proxy ? '{ subnet: 10.77.0.0/24, lease: 1h }' : `{ subnet: 10.77.0.0/24, range: 10.77.0.100-10.77.0.199, router: ${SERVER_IP}, lease: 1h }`}
  user_classes:
    - { match: iPXE, ipxe: true }
tftp: { address: ${SERVER_IP}, port: 69, root: ${join(dir, 'tftp')} }
http: { address: ${SERVER_IP}, port: 80, root: ${join(dir, 'http')} }
boot:
  bios: undionly.kpxe
  uefi: snponly.efi
  script: ${script}
iscsi:
  portal: "{server}"
  lun: 1
  target: iqn.2026-01.lanboot.e2e:{name}
  initiator: iqn.2026-01.lanboot.e2e:initiator:{name}
  handoff: ${s.handoff}
hosts:
  ${BIOS_MAC}: ${biosHost ?? '{ name: pc01, ip: 10.77.0.10, boot: iscsi }'}
  ${UEFI_MAC}: { name: uefi01, ip: 10.77.0.11, boot: iscsi }
`;
}

// Missing firmware or tools fail the suite (CI installs them: .ci/install-deps);
// LANBOOT_SKIP_E2E=1 skips it on a machine that cannot run VMs.
const skip = process.env.LANBOOT_SKIP_E2E === '1';

describe.skipIf(skip)('real firmware end to end', () => {
  it('has QEMU, iPXE, OVMF, tgt, dnsmasq and a built lanboot', () => {
    expect(missing, 'install them (.ci/install-deps) and run npm run build').toEqual([]);
  });

  const scope = new NetnsScope();
  let dir: string;
  let net: E2eNet;
  let tgt: Tgt;
  let marker: string;
  let n = 0;
  let vm: SerialVm | undefined;
  let lanboot: LanbootProc | undefined;

  beforeAll(async () => {
    if (missing.length > 0) return;
    dir = tempDir('lb-e2e-');
    mkdirSync(join(dir, 'tftp'));
    mkdirSync(join(dir, 'http'));
    for (const f of ['undionly.kpxe', 'snponly.efi', 'ipxe.efi']) cpSync(`/usr/lib/ipxe/${f}`, join(dir, 'tftp', f));
    // A fresh marker per run: only this run's disk can print it.
    marker = `LANBOOT-E2E-${Math.random().toString(36).slice(2, 10).toUpperCase()}`;
    writeFileSync(join(dir, 'disk.img'), bootDiskImage(marker));
    net = await makeNet(scope);
    startRa(scope, net.srvNs, net.srvIf);
    tgt = new Tgt(scope, net.srvNs);
    await tgt.start(SERVER_IP);
    await tgt.addTarget(TARGET, join(dir, 'disk.img'));
    // UEFI boots an EFI system partition, not a boot sector: its BOOTX64.EFI prints the marker.
    writeFileSync(join(dir, 'disk-uefi.img'), espDiskImage(efiMarkerApp(`${marker}-UEFI`), dir));
    await tgt.addTarget('iqn.2026-01.lanboot.e2e:uefi01', join(dir, 'disk-uefi.img'));
  }, 30_000);

  afterAll(async () => {
    await vm?.stop();
    await lanboot?.stop();
    await scope.cleanup();
    tgt?.cleanupFiles();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  /** Start lanboot for a scenario and a VM; the caller drives the VM. */
  async function boot(s: Scenario, mac: string, firmware: 'bios' | 'uefi', biosHost?: string): Promise<{ vm: SerialVm; lanboot: LanbootProc }> {
    await vm?.stop();
    await lanboot?.stop();
    n++;
    const file = join(dir, `lanboot-${n}.yaml`);
    writeFileSync(file, config(dir, net, s, n, biosHost));
    lanboot = new LanbootProc(scope, net.srvNs, CLI);
    lanboot.start(file);
    // Ready when the HTTP service (started after DHCP and TFTP) says so.
    await lanboot.waitForLine((l) => l.event === 'http.listen', 15_000, 'lanboot to start');
    const vmDir = join(dir, `vm-${n}`);
    mkdirSync(vmDir);
    vm = new SerialVm(scope, net.vmNs, { mac, tap: net.tap, firmware, dir: vmDir });
    vm.start();
    return { vm, lanboot };
  }

  const forMac = (mac: string) => (l: Record<string, unknown>) => l.mac === mac;

  it('(a) BIOS iPXE ROM: DHCP -> script by HTTP -> sanboot iSCSI LUN 1 -> marker on serial', async () => {
    const { vm, lanboot } = await boot({ script: 'http', handoff: 'script' }, BIOS_MAC, 'bios');
    await vm.waitFor(new RegExp(marker), 60_000);
    expect(vm.output).toContain('lanboot: booting pc01 from SAN drive 0x80');
    const script = await lanboot.waitForLine((l) => forMac(BIOS_MAC)(l) && l.event === 'http.script', 1000, 'http.script');
    expect(script).toMatchObject({ status: 200, client: '10.77.0.10' });
  }, 90_000);

  it('(b) BIOS iPXE ROM: script by TFTP -> iSCSI -> marker', async () => {
    const { vm, lanboot } = await boot({ script: 'tftp', handoff: 'script' }, BIOS_MAC, 'bios');
    await vm.waitFor(new RegExp(marker), 60_000);
    expect(vm.output).toMatch(new RegExp(`tftp://${SERVER_IP.replace(/\./g, '\\.')}/boot/52:54:00:77:e2:01\\.ipxe`));
    // TFTP served the generated script, and HTTP never saw this boot.
    await lanboot.waitForLine((l) => forMac(BIOS_MAC)(l) && String(l.event).startsWith('tftp.') && /boot\/52:54:00:77:e2:01\.ipxe/.test(String(l.file ?? l.path ?? '')), 1000, 'the TFTP script transfer');
    expect(lanboot.lines.some((l) => l.event === 'http.script')).toBe(false);
  }, 90_000);

  it('(c) a non-iPXE first DHCP (explicit user-class beats option 175) -> undionly.kpxe by TFTP -> iPXE -> script -> marker', async () => {
    const { vm, lanboot } = await boot({ script: 'http', handoff: 'script' }, BIOS_MAC, 'bios');
    // The ROM's shell plays a plain PXE ROM: another user-class, DHCP, then
    // chain the bootfile it was given. It still sends option 175.
    await vm.waitFor(/Press Ctrl-B for the iPXE command line/, 30_000);
    await vm.type('\x02');
    await vm.waitFor(/iPXE> ?$/, 10_000);
    await vm.shell('set user-class PXE-chain', 5000);
    await vm.shell('dhcp', 40_000);
    // Cleared so the next stage's cached DHCP packet (iPXE's PXE API) carries no user-class.
    await vm.shell('clear user-class', 5000);
    await vm.shell('chain tftp://${next-server}/${filename}', 0, false);
    await vm.waitFor(new RegExp(marker), 60_000);
    expect(vm.output).toMatch(/undionly\.kpxe\.\.\. ok/);
    await lanboot.waitForLine((l) => forMac(BIOS_MAC)(l) && String(l.event).startsWith('tftp.') && /undionly\.kpxe/.test(String(l.file ?? l.path ?? '')), 1000, 'the undionly.kpxe transfer');
    await lanboot.waitForLine((l) => forMac(BIOS_MAC)(l) && l.event === 'http.script', 1000, 'http.script after the chain');
    // DHCP saw the PXE-chain request as a PXE ROM (despite option 175) and the undionly one as iPXE.
    const acks = lanboot.lines.filter((l) => forMac(BIOS_MAC)(l) && l.event === 'dhcp.ack');
    // A REQUEST the firmware retransmits (a slow, loaded machine) is ACKed again: compare the stages, once each.
    const stages = acks.map((l) => [l.stage, l.bootfile]).filter((a, k, all) => k === 0 || JSON.stringify(a) !== JSON.stringify(all[k - 1]));
    expect(stages).toEqual([
      ['pxe', 'undionly.kpxe'],
      ['ipxe', `http://${SERVER_IP}/boot/${BIOS_MAC}.ipxe`],
    ]);
    // The order of the boot as lanboot logged it: chain bootfile first, script after.
    const i = (pred: (l: Record<string, unknown>) => boolean) => lanboot.lines.findIndex((l) => forMac(BIOS_MAC)(l) && pred(l));
    expect(i((l) => /undionly\.kpxe/.test(String(l.file ?? l.path ?? '')))).toBeLessThan(i((l) => l.event === 'http.script'));
  }, 120_000);

  it('(d) handoff by DHCP option 17: iPXE boots the root-path itself, no script', async () => {
    const { vm, lanboot } = await boot({ script: 'http', handoff: 'dhcp' }, BIOS_MAC, 'bios');
    await vm.waitFor(new RegExp(marker), 60_000);
    expect(vm.output).toContain(`Root path: iscsi:${SERVER_IP}::3260:1:${TARGET}`);
    expect(lanboot.lines.some((l) => l.event === 'http.script')).toBe(false);
  }, 90_000);

  it('(e) UEFI (OVMF PXE): snponly.efi by TFTP, the script over HTTP, sanboot of an EFI system partition -> marker', async () => {
    const { vm, lanboot } = await boot({ script: 'http', handoff: 'script' }, UEFI_MAC, 'uefi');
    await lanboot.waitForLine((l) => forMac(UEFI_MAC)(l) && String(l.event).startsWith('tftp.') && /snponly\.efi/.test(String(l.file ?? l.path ?? '')), 60_000, 'snponly.efi by TFTP');
    const script = await lanboot.waitForLine((l) => forMac(UEFI_MAC)(l) && l.event === 'http.script', 60_000, 'http.script from the UEFI VM');
    expect(script).toMatchObject({ status: 200 });
    // The script ran in iPXE for EFI, logged in to the target, and the firmware started the
    // disk's \EFI\BOOT\BOOTX64.EFI, which prints this run's marker.
    await vm.waitFor(/lanboot: attaching iscsi:/, 20_000);
    expect(vm.output).toMatch(/iPXE .* -- Open Source Network Boot Firmware/);
    await vm.waitFor(new RegExp(`${marker}-UEFI`), 60_000);
  }, 120_000);

  it('(f) menu -> "r" (reset hook over HTTP from the host itself) -> menu -> iSCSI boots the freshly reset disk', async () => {
    const fresh = `${marker}-FRESH`;
    writeFileSync(join(dir, 'pristine.img'), bootDiskImage(fresh));
    writeFileSync(join(dir, 'pc02.img'), bootDiskImage(`${marker}-OLD`));
    await tgt.addTarget('iqn.2026-01.lanboot.e2e:pc02', join(dir, 'pc02.img'));
    // {name} expands per argument; cp runs without a shell, as the host's own reset.
    const host = `{ name: pc02, ip: 10.77.0.10, boot: menu, menu: [iscsi, local], reset: [/bin/cp, ${JSON.stringify(join(dir, 'pristine.img'))}, ${JSON.stringify(join(dir, '{name}.img'))}] }`;
    const { vm, lanboot } = await boot({ script: 'http', handoff: 'script' }, BIOS_MAC, 'bios', host);
    await vm.waitFor(/Reset the disk of pc02/, 60_000);
    await vm.type('r');
    await vm.waitFor(/lanboot: reset of pc02 done/, 30_000);
    const done = await lanboot.waitForLine((l) => forMac(BIOS_MAC)(l) && l.event === 'reset.done', 1000, 'reset.done');
    expect(done).toMatchObject({ ok: true, code: 0, via: 'http', name: 'pc02' });
    expect((done.argv as string[])[2]).toBe(join(dir, 'pc02.img'));
    // Back at the menu, the default (iSCSI) boots after its timeout: the reset disk.
    await vm.waitFor(new RegExp(`${fresh}\r?\n`), 60_000);
    expect(vm.output).not.toContain(`${marker}-OLD`);
  }, 120_000);

  it('(g) proxyDHCP beside another DHCP server: address from it, script from lanboot, the script attaches the disk', async () => {
    // The "other router": plain DHCP on the LAN bridge, knows nothing of PXE.
    await scope.exec(net.vmNs, 'ip', ['addr', 'add', '10.77.0.2/24', 'dev', net.bridge]);
    const other = scope.spawn(net.vmNs, 'dnsmasq', [
      '--keep-in-foreground', '--conf-file=/dev/null', '--port=0', `--interface=${net.bridge}`, '--bind-interfaces',
      '--dhcp-range=10.77.0.100,10.77.0.150,1h', `--dhcp-host=${BIOS_MAC},10.77.0.20`, '--dhcp-option=3,10.77.0.2',
      `--dhcp-leasefile=${join(dir, 'other.leases')}`, '--pid-file=', '--log-dhcp', '--log-facility=-',
    ]);
    let otherLog = '';
    other.stderr?.on('data', (d: Buffer) => (otherLog += d.toString()));
    try {
      const { vm, lanboot } = await boot({ script: 'http', handoff: 'dhcp', proxy: true }, BIOS_MAC, 'bios');
      await vm.waitFor(new RegExp(marker), 60_000);
      expect(vm.output).toContain('net0: 10.77.0.20/255.255.255.0'); // dnsmasq's address
      expect(vm.output).not.toContain('Root path:'); // proxy: no option 17 even with handoff: dhcp
      expect(vm.output).toContain(`lanboot: attaching iscsi:${SERVER_IP}::3260:1:${TARGET}`);
      const s = await lanboot.waitForLine((l) => forMac(BIOS_MAC)(l) && l.event === 'http.script', 1000, 'http.script');
      expect(s).toMatchObject({ client: '10.77.0.20' });
      expect(otherLog).toMatch(/DHCPACK.*10\.77\.0\.20/);
    } finally {
      other.kill('SIGKILL');
    }
  }, 120_000);

  it('(h) boot: chain to a disk image in http.root: iPXE sanboots it over HTTP ranges', async () => {
    const httpSan = `${marker}-HTTPSAN`;
    mkdirSync(join(dir, 'http', 'images'), { recursive: true });
    writeFileSync(join(dir, 'http', 'images', 'disk.img'), bootDiskImage(httpSan));
    const host = '{ name: pc03, ip: 10.77.0.10, boot: chain, chain: images/disk.img }';
    const { vm, lanboot } = await boot({ script: 'http', handoff: 'script' }, BIOS_MAC, 'bios', host);
    await vm.waitFor(new RegExp(`${httpSan}\\r?\\n`), 60_000);
    expect(vm.output).toContain(`lanboot: booting image http://${SERVER_IP}/images/disk.img`);
    // The reads were ranges of the static file: one boot event under the MAC, the rest at debug.
    await lanboot.waitForLine((l) => forMac(BIOS_MAC)(l) && l.event === 'http.file' && l.path === 'images/disk.img' && l.status === 206, 1000, 'a ranged read of disk.img');
    expect(lanboot.lines.filter((l) => l.event === 'http.file' && l.path === 'images/disk.img' && l.status === 206)).toHaveLength(1);
    expect(lanboot.lines.filter((l) => l.event === 'http.range' && l.path === 'images/disk.img').length).toBeGreaterThan(0);
  }, 120_000);
});
