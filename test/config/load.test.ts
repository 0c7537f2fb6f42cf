import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { problems } from './problems.js';
import { expand, templateVariables } from '../../src/config/template.js';

const BASE = `interfaces: [lan0]
dhcp:
  mode: authoritative
  subnets:
    - { subnet: 10.77.0.0/24, range: 10.77.0.100-10.77.0.199, router: 10.77.0.1, dns: [10.77.0.1], lease: 12h }
boot:
  script: http://{server}/boot/{mac}.ipxe
iscsi:
  portal: 10.77.0.1
  target: iqn.2010-01.lan.example:{name}
  initiator: iqn.2010-01.lan.example:initiator:{name}
hosts:
  52:54:00:77:00:10: { name: pc01, ip: 10.77.0.10, boot: iscsi }
`;

describe('config loader', () => {
  it('resolves the example from the issue with defaults and derived values', () => {
    const c = parseConfig(BASE, '/etc/lanboot/lanboot.yaml');
    expect(c.dhcp?.subnets[0]).toMatchObject({ network: '10.77.0.0', prefix: 24, netmask: '255.255.255.0', lease: 43200 });
    expect(c.dhcp?.subnets[0]?.range).toEqual({ start: '10.77.0.100', end: '10.77.0.199' });
    expect(c.dhcp?.lease_file).toBe('/var/lib/lanboot/leases.journal');
    expect(c.dhcp?.user_classes).toEqual([{ match: 'iPXE', ipxe: true }]);
    expect(c.boot).toMatchObject({ bios: 'undionly.kpxe', uefi: 'snponly.efi' });
    expect(c.hosts).toEqual([
      expect.objectContaining({ mac: '52:54:00:77:00:10', prefix_bits: 48, name: 'pc01', ip: '10.77.0.10', boot: 'iscsi', line: 13 }),
    ]);
    expect(c.iscsi).toMatchObject({ port: 3260, lun: 1, handoff: 'script', portal: '10.77.0.1' });
  });

  it('interfaces: unset (served by subnet), [] (UDP only) and a list stay apart; except_interfaces may not repeat a listed one', () => {
    expect(parseConfig(BASE.replace('interfaces: [lan0]\n', ''), 'x.yaml').interfaces).toBeUndefined();
    expect(parseConfig(BASE.replace('[lan0]', '[]'), 'x.yaml').interfaces).toEqual([]);
    expect(parseConfig(BASE, 'x.yaml')).toMatchObject({ interfaces: ['lan0'], except_interfaces: [] });
    expect(problems(`except_interfaces: [wan0, lan0]\n${BASE}`)[0]).toMatch(/^lanboot\.yaml:1:27: except_interfaces\[1\]: lan0 is also listed in interfaces/);
    // RPL frames carry no address: with interfaces unset it needs its own list.
    expect(problems(`rpl: {}\n${BASE.replace('interfaces: [lan0]\n', '')}`)[0]).toMatch(/rpl: the RPL responder needs an interface: set rpl\.interfaces or interfaces/);
  });

  it('resolves relative paths against the config file directory', () => {
    const c = parseConfig('state_dir: ./state\ntftp: { root: tftpboot }\n', '/opt/lb/conf/lanboot.yaml');
    expect(c.state_dir).toBe('/opt/lb/conf/state');
    expect(c.tftp?.root).toBe('/opt/lb/conf/tftpboot');
    expect(c.boot.script).toBe('tftp://{tftp}/boot/{mac}.ipxe'); // no http section: scripts go by TFTP
  });

  it('names file:line:col, the key and a suggestion for an unknown key', () => {
    const p = problems(BASE.replace('{ name: pc01,', '{ nmae: pc01,'));
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^lanboot\.yaml:13:24: hosts\.52:54:00:77:00:10\.nmae: unknown key "nmae"; did you mean "name"\?/);
  });

  it('lists valid values for an enum', () => {
    const p = problems(BASE.replace('mode: authoritative', 'mode: authoritive'));
    expect(p[0]).toBe('lanboot.yaml:3:9: dhcp.mode: expected one of: authoritative, proxy');
  });

  it('refuses bad durations, addresses and MACs at their position', () => {
    expect(problems(BASE.replace('lease: 12h', 'lease: 12x'))[0]).toMatch(/^lanboot\.yaml:5:\d+: dhcp\.subnets\[0\]\.lease: expected a duration/);
    expect(problems(BASE.replace('router: 10.77.0.1', 'router: 10.77.0.256'))[0]).toMatch(/:5:\d+: dhcp\.subnets\[0\]\.router: expected an IPv4 address/);
    expect(problems(BASE.replace('52:54:00:77:00:10:', '52:54:00:77:00:1g:'))[0]).toMatch(/hosts\.52:54:00:77:00:1g: expected a MAC/);
  });

  it('refuses an unknown template variable', () => {
    const p = problems(BASE.replace('{name}\n  initiator', '{hostname}\n  initiator'));
    expect(p[0]).toMatch(/^lanboot\.yaml:10:11: iscsi\.target: unknown template variable \{hostname\}; valid: \{name\}/);
  });

  it('checks semantic rules: ranges inside the subnet, duplicate addresses, sections a host needs', () => {
    expect(problems(BASE.replace('range: 10.77.0.100-10.77.0.199', 'range: 10.77.1.100-10.77.1.199'))[0]).toMatch(
      /:5:\d+: dhcp\.subnets\[0\]\.range: range .* is not inside 10\.77\.0\.0\/24/,
    );
    const dup = BASE + '  52:54:00:77:00:11: { name: pc02, ip: 10.77.0.10 }\n';
    expect(problems(dup)[0]).toMatch(/:14:\d+: hosts\.52:54:00:77:00:11\.ip: 10\.77\.0\.10 is already the address of 52:54:00:77:00:10/);
    const noIscsi = BASE.replace(/iscsi:\n(  .*\n){3}/, '');
    expect(problems(noIscsi)[0]).toMatch(/boot: iscsi needs an iscsi: section/);
    expect(problems(BASE.replace('10.77.0.0/24,', '10.77.0.1/24,'))[0]).toMatch(/has host bits set; write 10\.77\.0\.0\/24/);
  });

  it('reports YAML syntax errors with a position', () => {
    expect(problems('dhcp: { mode: proxy\n')[0]).toMatch(/^lanboot\.yaml:\d+:\d+: /);
  });

  it('accepts MAC prefixes for hosts (rpld ethernet masks)', () => {
    const c = parseConfig('hosts:\n  52:54:00:00:00:00/24: { boot: local }\n', 'x.yaml');
    expect(c.hosts[0]).toMatchObject({ mac: '52:54:00:00:00:00', prefix_bits: 24, boot: 'local' });
  });
});

describe('templates', () => {
  it('expands known variables and keeps escaped braces', () => {
    expect(expand('iqn.x:{name}-{{lit}}', { name: 'pc01' })).toBe('iqn.x:pc01-{lit}');
    expect(templateVariables('http://{server}/boot/{mac}.ipxe')).toEqual(['server', 'mac']);
  });
  it('refuses a variable without a value instead of writing an empty string', () => {
    expect(() => expand('{ip}', { name: 'a' })).toThrow(/needs \{ip\}/);
  });
});

describe('config loader: refusals found in review', () => {
  it('refuses overlapping subnets at the second one', () => {
    const p = problems(BASE.replace('lease: 12h }', 'lease: 12h }\n    - { subnet: 10.77.0.0/16 }'));
    expect(p[0]).toMatch(/:6:\d+: dhcp\.subnets\[1\]\.subnet: 10\.77\.0\.0\/16 overlaps 10\.77\.0\.0\/24/);
  });
  it('refuses a host address that is the network, broadcast or router address', () => {
    expect(problems(BASE.replace('ip: 10.77.0.10', 'ip: 10.77.0.255'))[0]).toMatch(/network, broadcast or router address/);
    expect(problems(BASE.replace('ip: 10.77.0.10', 'ip: 10.77.0.1'))[0]).toMatch(/network, broadcast or router address/);
  });
  it('refuses ip: on a MAC prefix entry', () => {
    expect(problems(BASE.replace('52:54:00:77:00:10:', '52:54:00:00:00:00/24:'))[0]).toMatch(/ip: needs a full MAC/);
  });
  it('refuses leases under a minute or beyond 32 bits', () => {
    expect(problems(BASE.replace('lease: 12h', 'lease: "0"'))[0]).toMatch(/lease: a lease shorter than 60 s/);
    expect(problems(BASE.replace('lease: 12h', 'lease: 50000d'))[0]).toMatch(/lease: at most 4294967294 s/);
  });
});

describe('config loader: malformed addresses', () => {
  it('refuses octets over 255 in subnets and ranges with a position, never throws something else', () => {
    expect(problems(BASE.replace('subnet: 10.77.0.0/24', 'subnet: 10.77.0.300/24'))[0]).toMatch(/dhcp\.subnets\[0\]\.subnet: expected a subnet in CIDR form/);
    expect(problems(BASE.replace('10.77.0.100-10.77.0.199', '10.77.0.100-10.77.0.999'))[0]).toMatch(/dhcp\.subnets\[0\]\.range: expected a range/);
  });
});
