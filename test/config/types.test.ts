/**
 * A config key is described once, in the schema (issue 12): the resolved types
 * are the schema's output plus what the resolver adds. Checked by the compiler
 * (`npm run typecheck` covers test/) and, for what the resolver passes through,
 * at run time.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import { parseConfig } from '../../src/config/load.js';
import { bootSchema, dhcpSchema, root, tftpSchema, rplImage } from '../../src/config/schema.js';
import type { BootConfig, Config, DhcpConfig, HostConfig, RplImage, TftpConfig } from '../../src/config/types.js';

describe('config types come from the schema', () => {
  it('section types are the schema output, keys and value types alike', () => {
    expectTypeOf<TftpConfig>().toEqualTypeOf<Omit<z.output<typeof tftpSchema>, 'allow_system_root'>>();
    expectTypeOf<RplImage>().toEqualTypeOf<z.output<typeof rplImage>>();
    expectTypeOf<Omit<DhcpConfig, 'lease_file' | 'subnets'>>().toEqualTypeOf<Omit<z.output<typeof dhcpSchema>, 'lease_file' | 'subnets'>>();
    expectTypeOf<Omit<BootConfig, 'script'>>().toEqualTypeOf<Omit<z.output<typeof bootSchema>, 'script'>>();
    expectTypeOf<Config['log']>().toEqualTypeOf<z.output<typeof root>['log']>();
    expectTypeOf<HostConfig['reset_on_boot']>().toEqualTypeOf<boolean | undefined>();
  });

  it('every key the schema knows reaches the resolved config', () => {
    const c = parseConfig(
      'server: 10.0.0.1\nuser: lb\ngroup: lb\nlog: { level: debug }\ntftp: { root: /srv/tftp, cache_bytes: 5 }\n' +
        'hosts: { 52:54:00:00:00:01: { name: a, ipxe: true, drives: ["iqn.x:{name}"], reset: [/bin/true], reset_on_boot: true } }\n',
      '/etc/lanboot/x.yaml',
    );
    const top = Object.keys(root.shape);
    expect(Object.keys(c).sort()).toEqual([...top, 'file'].sort());
    expect(c).toMatchObject({ server: '10.0.0.1', user: 'lb', group: 'lb', log: { level: 'debug' } });
    expect(c.tftp).toMatchObject({ cache_bytes: 5 });
    expect(c.hosts[0]).toMatchObject({ ipxe: true, drives: ['iqn.x:{name}'], reset: ['/bin/true'], reset_on_boot: true });
  });
});
