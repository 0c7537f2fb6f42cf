import { describe, expect, it } from 'vitest';
import {
  AddressError,
  broadcastOf,
  formatMac,
  inPrefix,
  ipv4ToNumber,
  isBroadcastMac,
  isGroupMac,
  isIpv4,
  isLoopbackIpv4,
  isMac,
  isWholeMac,
  macPrefixMatch,
  macStartsWith,
  netmaskToPrefix,
  networkOf,
  normalizeMac,
  numberToIpv4,
  parseCidr,
  parseIpv4,
  parseMac,
  prefixMask,
  prefixToNetmask,
  tryNormalizeMac,
} from '../../src/net/address.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('IPv4 addresses', () => {
  it('converts between dotted quads and numbers', () => {
    expect(ipv4ToNumber('10.99.0.1')).toBe(0x0a630001);
    expect(ipv4ToNumber('255.255.255.255')).toBe(0xffffffff);
    expect(ipv4ToNumber('0.0.0.0')).toBe(0);
    expect(numberToIpv4(0xc0a80101)).toBe('192.168.1.1');
    expect(numberToIpv4(0)).toBe('0.0.0.0');
    for (const a of ['0.0.0.0', '255.255.255.255', '10.77.0.1', '192.168.100.254', '1.22.133.0']) expect(numberToIpv4(ipv4ToNumber(a))).toBe(a);
  });

  it('refuses anything but four decimal octets without leading zeros', () => {
    const bad = ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.00', '1.2.3.-1', 'a.b.c.d', ' 1.2.3.4', '1.2.3.4 ', '1..2.3', '1.2.3.1000', '1.2.3.4/24', '0x1.2.3.4'];
    for (const s of bad) {
      expect(parseIpv4(s), s).toBe(-1);
      expect(isIpv4(s), s).toBe(false);
      expect(() => ipv4ToNumber(s), s).toThrow(AddressError);
    }
    expect(parseIpv4(undefined as unknown as string)).toBe(-1);
    expect(() => numberToIpv4(2 ** 32)).toThrow(AddressError);
    expect(() => numberToIpv4(-1)).toThrow(AddressError);
  });

  it('does prefix arithmetic', () => {
    expect(prefixMask(0)).toBe(0);
    expect(prefixMask(24)).toBe(0xffffff00);
    expect(prefixMask(32)).toBe(0xffffffff);
    expect(() => prefixMask(33)).toThrow(AddressError);
    expect(prefixToNetmask(24)).toBe('255.255.255.0');
    expect(prefixToNetmask(0)).toBe('0.0.0.0');
    expect(prefixToNetmask(32)).toBe('255.255.255.255');
    for (let p = 0; p <= 32; p++) expect(netmaskToPrefix(prefixToNetmask(p))).toBe(p);
    expect(netmaskToPrefix('255.0.255.0')).toBeUndefined();
    expect(netmaskToPrefix('255.255.255')).toBeUndefined();
    expect(networkOf('10.1.2.3', 24)).toBe('10.1.2.0');
    expect(networkOf('10.1.2.3', 0)).toBe('0.0.0.0');
    expect(broadcastOf('10.1.2.3', 24)).toBe('10.1.2.255');
    expect(broadcastOf('10.1.2.3', 32)).toBe('10.1.2.3');
    expect(broadcastOf('10.1.2.3', 0)).toBe('255.255.255.255');
  });

  it('tests membership, false for non-addresses', () => {
    expect(inPrefix('10.77.0.9', '10.77.0.0', 24)).toBe(true);
    expect(inPrefix('10.77.1.9', '10.77.0.0', 24)).toBe(false);
    expect(inPrefix('200.1.1.1', '0.0.0.0', 0)).toBe(true);
    expect(inPrefix('10.77.0.9', '10.77.0.9', 32)).toBe(true);
    expect(inPrefix('nonsense', '10.77.0.0', 24)).toBe(false);
    expect(inPrefix('10.77.0.9', 'nonsense', 24)).toBe(false);
  });

  it('parses CIDR and knows loopback', () => {
    expect(parseCidr('10.0.0.0/24')).toEqual({ network: '10.0.0.0', prefix: 24 });
    expect(parseCidr('10.0.0.0/33')).toBeUndefined();
    expect(parseCidr('10.0.0.0')).toBeUndefined();
    expect(parseCidr('10.0.0/8')).toBeUndefined();
    expect(isLoopbackIpv4('127.0.0.1')).toBe(true);
    expect(isLoopbackIpv4('127.255.1.2')).toBe(true);
    expect(isLoopbackIpv4('128.0.0.1')).toBe(false);
  });
});

describe('MAC addresses: one rule set', () => {
  it('parses every common spelling and formats lower-case with colons', () => {
    const spellings = ['02:52:50:4C:00:02', '02-52-50-4c-00-02', '0252504c0002', '0252.504c.0002', '2:52:50:4c:0:2', '2-52-50-4C-0-2', '02:52-50:4c:00:02'];
    for (const s of spellings) {
      expect(isMac(s), s).toBe(true);
      expect(parseMac(s)).toEqual(hex('0252504c0002'));
      expect(normalizeMac(s)).toBe('02:52:50:4c:00:02');
      expect(tryNormalizeMac(s)).toBe('02:52:50:4c:00:02');
    }
    expect(formatMac(hex('00 0a 0b 0c 0d 0e ff'), 1)).toBe('0a:0b:0c:0d:0e:ff');
  });

  it('rejects malformed MACs with an AddressError', () => {
    for (const s of ['', '02:52:50:4c:00', '02:52:50:4c:00:02:03', 'gg:00:00:00:00:00', ' 02:52:50:4c:00:02', '002:52:50:4c:00:02', '0252504c000', '02.52.50.4c.00.02', '02:52:50:4c:00:']) {
      expect(isMac(s), s).toBe(false);
      expect(tryNormalizeMac(s)).toBeUndefined();
      expect(() => parseMac(s)).toThrow(AddressError);
      expect(() => normalizeMac(s)).toThrow(AddressError);
    }
    expect(() => formatMac(hex('0102030405'))).toThrow(AddressError);
  });

  it('classifies group and broadcast addresses', () => {
    expect(isGroupMac('03:00:02:00:00:00')).toBe(true);
    expect(isGroupMac('ff:ff:ff:ff:ff:ff')).toBe(true);
    expect(isGroupMac('02:52:50:4c:00:02')).toBe(false);
    expect(isBroadcastMac('ff:ff:ff:ff:ff:ff')).toBe(true);
    expect(isBroadcastMac(hex('ffffffffff00'))).toBe(false);
  });

  it('matches MAC prefixes by bits, and whole MACs name one machine', () => {
    expect(isWholeMac(48)).toBe(true);
    expect(isWholeMac(24)).toBe(false);
    expect(isWholeMac(0)).toBe(false);
    expect(macPrefixMatch('00:60:8c:12:34:56', '00:60:8c:00:00:00', 24)).toBe(true);
    expect(macPrefixMatch('00:60:8d:12:34:56', '00:60:8c:00:00:00', 24)).toBe(false);
    expect(macPrefixMatch('00:60:8c:12:34:56', '00-60-8C-00-00-00', 24)).toBe(true);
    // Not on an octet boundary: /20 keeps the high nibble of the third octet.
    expect(macPrefixMatch('00:60:8f:12:34:56', '00:60:80:00:00:00', 20)).toBe(true);
    expect(macPrefixMatch('00:60:9f:12:34:56', '00:60:80:00:00:00', 20)).toBe(false);
    expect(macPrefixMatch('12:34:56:78:9a:bc', '00:00:00:00:00:00', 0)).toBe(true);
    expect(macPrefixMatch('12:34:56:78:9a:bc', '12:34:56:78:9a:bc', 48)).toBe(true);
    expect(macPrefixMatch('12:34:56:78:9a:bd', '12:34:56:78:9a:bc', 48)).toBe(false);
    expect(macPrefixMatch('12:34:56:78:9a:bd', '12:34:56:78:9a:bc', 47)).toBe(true);
    expect(() => macPrefixMatch('12:34:56:78:9a:bd', '12:34:56:78:9a:bc', 49)).toThrow(AddressError);
    expect(macStartsWith('00:1b:21:aa:bb:cc', '00:1b:21')).toBe(true);
    expect(macStartsWith('00-1B-21-AA-BB-CC', '00-1B-21')).toBe(true);
    expect(macStartsWith('00:1b:22:aa:bb:cc', '00:1b:21')).toBe(false);
    expect(macStartsWith('not a mac', '')).toBe(false);
  });
});
