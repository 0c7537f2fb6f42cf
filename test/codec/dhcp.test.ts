import { describe, expect, it } from 'vitest';
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  decode, encode, encodingLength, replyTo, messageType, chaddrToMac, macToChaddr, ipToInt, DhcpEncodeError,
  DhcpDecodeError, BOOTREPLY, BOOTREQUEST, DHCPDISCOVER, DHCPREQUEST, type DhcpMessage,
} from '../../src/codec/dhcp.js';
import {
  OPT, readClientArch, readUserClasses, decodeUserClasses, readIpxeOptions, readUuid, readClientNdi,
  readString, readIp, readU16, readParameterList, decodeSuboptions, encodeSuboptions, userClassesRfc3004,
  decodeDomainSearch, encodeDomainSearch, decodeClasslessRoutes, encodeClasslessRoutes, clientKey, ip, str,
} from '../../src/codec/dhcp-options.js';

const dir = fileURLToPath(new URL('../fixtures/dhcp/', import.meta.url));
function fixture(name: string): Buffer {
  return Buffer.from(readFileSync(dir + name, 'utf8').trim(), 'hex');
}

/** Re-encode with the original length as minimum; byte-exact when the client used no in-area pads. */
function roundTrip(buf: Buffer): Buffer {
  return encode(decode(buf), { minLength: buf.length });
}

describe('real client captures', () => {
  it('udhcpc DISCOVER', () => {
    const buf = fixture('udhcpc-discover.hex');
    const m = decode(buf);
    expect(m.op).toBe(BOOTREQUEST);
    expect(m.htype).toBe(1);
    expect(m.hlen).toBe(6);
    expect(messageType(m)).toBe(DHCPDISCOVER);
    expect(chaddrToMac(m)).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    expect(readString(m.options, OPT.HOSTNAME)).toBe('capture-host');
    expect(readParameterList(m.options)).toEqual(expect.arrayContaining([1, 3, 6]));
    // Binary client-id (61): type 1 + MAC, kept as bytes.
    const id = m.options.get(OPT.CLIENT_ID)!;
    expect(id[0]).toBe(1);
    expect(id.subarray(1)).toEqual(m.chaddr.subarray(0, 6));
    expect(clientKey(m.options, 1, '')).toBe('id:' + id.toString('hex'));
    // 61 = htype + chaddr is the hardware identity itself.
    const hw = m.chaddr.subarray(0, 6).toString('hex');
    expect(clientKey(m.options, 1, hw)).toBe('hw:01:' + hw);
    expect(clientKey(new Map([[61, Buffer.from([0xff, 1, 2, 3, 4])]]), 1, hw)).toBe('id:ff01020304');
    expect(roundTrip(buf)).toEqual(buf);
  });

  it('udhcpc REQUEST carries requested-ip and server-id', () => {
    const m = decode(fixture('udhcpc-request.hex'));
    expect(messageType(m)).toBe(DHCPREQUEST);
    expect(readIp(m.options, OPT.REQUESTED_IP)).toMatch(/^10\.99\.0\.1\d\d$/);
    expect(readIp(m.options, OPT.SERVER_ID)).toBe('10.99.0.1');
    expect(roundTrip(fixture('udhcpc-request.hex'))).toEqual(fixture('udhcpc-request.hex'));
  });

  it('dhclient DISCOVER/REQUEST', () => {
    const d = decode(fixture('dhclient-discover.hex'));
    expect(messageType(d)).toBe(DHCPDISCOVER);
    expect(readParameterList(d.options).length).toBeGreaterThan(5);
    const r = decode(fixture('dhclient-request.hex'));
    expect(messageType(r)).toBe(DHCPREQUEST);
    expect(r.xid).toBe(d.xid);
    expect(readIp(r.options, OPT.SERVER_ID)).toBe('10.99.0.1');
    for (const f of ['dhclient-discover.hex', 'dhclient-request.hex']) expect(roundTrip(fixture(f))).toEqual(fixture(f));
  });

  it('dhcpcd DISCOVER/REQUEST (no client-id without a config: identity falls back to chaddr)', () => {
    for (const f of ['dhcpcd-discover.hex', 'dhcpcd-request.hex']) {
      const m = decode(fixture(f));
      expect(m.options.has(OPT.CLIENT_ID)).toBe(false);
      expect(clientKey(m.options, m.htype, m.chaddr.subarray(0, 6).toString('hex'))).toMatch(/^hw:01:[0-9a-f]{12}$/);
      expect(readString(m.options, OPT.VENDOR_CLASS)).toMatch(/^dhcpcd-9/);
      expect(readU16(m.options, OPT.MAX_MESSAGE_SIZE)).toBe(1472);
      expect(roundTrip(fixture(f))).toEqual(fixture(f));
    }
  });

  it('perfdhcp DISCOVER (sent as a relay: giaddr set)', () => {
    const m = decode(fixture('perfdhcp-discover.hex'));
    expect(messageType(m)).toBe(DHCPDISCOVER);
    expect(m.giaddr).toBe('10.99.0.2');
    expect(roundTrip(fixture('perfdhcp-discover.hex'))).toEqual(fixture('perfdhcp-discover.hex'));
  });

  it.runIf(existsSync(dir + 'ipxe-qemu-discover.hex'))('QEMU iPXE ROM DISCOVER: 60/77/93/94/97/175', () => {
    const buf = fixture('ipxe-qemu-discover.hex');
    const m = decode(buf);
    expect(messageType(m)).toBe(DHCPDISCOVER);
    expect(chaddrToMac(m)).toBe('52:54:00:12:34:56');
    expect(readString(m.options, OPT.VENDOR_CLASS)).toMatch(/^PXEClient:Arch:00000:UNDI:002001$/);
    expect(readUserClasses(m.options)).toEqual(['iPXE']);
    expect(m.options.get(OPT.USER_CLASS)).toEqual(Buffer.from('iPXE'));
    expect(readClientArch(m.options)).toEqual([0]);
    expect(readClientNdi(m.options)).toEqual({ type: 1, major: 2, minor: 1 });
    expect(readUuid(m.options)).toMatch(/^[0-9a-f]{32}$/);
    const ipxe = readIpxeOptions(m.options)!;
    expect(ipxe.size).toBeGreaterThan(3);
    expect(ipxe.has(0x13)).toBe(true); // HTTP feature
    expect(readParameterList(m.options)).toEqual(expect.arrayContaining([17, 43, 60, 66, 67, 175, 203]));
    expect(roundTrip(buf)).toEqual(buf);
  });

  it.runIf(existsSync(dir + 'ipxe-qemu-request.hex'))('QEMU iPXE ROM REQUEST: same identity, requested-ip + server-id', () => {
    const buf = fixture('ipxe-qemu-request.hex');
    const m = decode(buf);
    expect(messageType(m)).toBe(DHCPREQUEST);
    expect(readIp(m.options, OPT.SERVER_ID)).toBe('10.99.0.1');
    expect(readIp(m.options, OPT.REQUESTED_IP)).toMatch(/^10\.99\.0\.1\d\d$/);
    expect(readUserClasses(m.options)).toEqual(['iPXE']);
    expect(readIpxeOptions(m.options)!.size).toBeGreaterThan(3);
    expect(roundTrip(buf)).toEqual(buf);
  });
});

function baseMsg(over: Partial<DhcpMessage> = {}): DhcpMessage {
  return {
    op: BOOTREQUEST, htype: 1, hlen: 6, hops: 0, xid: 0x12345678, secs: 3, flags: 0x8000,
    ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0',
    chaddr: macToChaddr('52:54:00:aa:bb:cc'), sname: '', file: '', options: new Map([[53, Buffer.from([1])]]),
    ...over,
  };
}

describe('encode/decode', () => {
  it('header fields round-trip', () => {
    const m = baseMsg({ ciaddr: '1.2.3.4', yiaddr: '5.6.7.8', siaddr: '9.10.11.12', giaddr: '13.14.15.16', sname: 'srv', file: 'pxelinux.0' });
    const back = decode(encode(m));
    expect(back).toEqual(m);
    expect(encodingLength(m)).toBe(encode(m).length);
  });

  it('replies are padded to 300 bytes, requests are not', () => {
    const rep = replyTo(baseMsg());
    rep.options.set(53, Buffer.from([2]));
    expect(rep.op).toBe(BOOTREPLY);
    expect(encode(rep).length).toBe(300);
    expect(encode(baseMsg()).length).toBe(244);
  });

  it('RFC 3396: long options split into 255-byte instances and concatenated on decode', () => {
    const long = Buffer.alloc(600, 7);
    long[0] = 1;
    long[599] = 9;
    const m = baseMsg({ options: new Map([[53, Buffer.from([1])], [200, long]]) });
    const buf = encode(m);
    // Three instances of option 200: 255 + 255 + 90.
    const i = buf.indexOf(Buffer.from([200, 255]), 240);
    expect(i).toBeGreaterThan(0);
    expect(buf[i + 257]).toBe(200);
    expect(buf[i + 258]).toBe(255);
    expect(buf[i + 514]).toBe(200);
    expect(buf[i + 515]).toBe(90);
    expect(decode(buf).options.get(200)).toEqual(long);
  });

  it('concatenates split instances written by someone else, in order', () => {
    const buf = encode(baseMsg({ options: new Map([[53, Buffer.from([1])]]) }));
    const opts = Buffer.from([12, 3, 0x61, 0x62, 0x63, 0, 0, 12, 2, 0x64, 0x65, 255]);
    const raw = Buffer.concat([buf.subarray(0, 240), opts]);
    expect(readString(decode(raw).options, 12)).toBe('abcde');
  });

  it('option overload 52: options in file and sname are read; encode overflows into them', () => {
    const buf = Buffer.alloc(300);
    buf[0] = 1; buf[1] = 1; buf[2] = 6;
    buf.writeUInt32BE(0x63825363, 236);
    Buffer.from([53, 1, 1, 52, 1, 3, 255]).copy(buf, 240);
    Buffer.from([12, 4, 0x68, 0x6f, 0x73, 0x74, 255]).copy(buf, 108); // file
    Buffer.from([15, 3, 0x6c, 0x61, 0x6e, 255]).copy(buf, 44); // sname
    const m = decode(buf);
    expect(readString(m.options, 12)).toBe('host');
    expect(readString(m.options, 15)).toBe('lan');
    expect(m.file).toBe('');
    expect(m.sname).toBe('');
    expect(m.options.has(52)).toBe(false);

    // Too much for maxLength 300: overflow into file/sname, decodes to the same options.
    const big = baseMsg({ options: new Map<number, Buffer>([[53, Buffer.from([1])], [201, Buffer.alloc(50, 1)], [202, Buffer.alloc(60, 2)], [203, Buffer.alloc(50, 3)], [204, Buffer.alloc(40, 4)]]) });
    const enc = encode(big, { maxLength: 300 });
    expect(enc.length).toBeLessThanOrEqual(300);
    const dec = decode(enc);
    expect(dec.options.get(201)).toEqual(Buffer.alloc(50, 1));
    expect(dec.options.get(202)).toEqual(Buffer.alloc(60, 2));
    expect(dec.options.get(203)).toEqual(Buffer.alloc(50, 3));
    expect(dec.options.get(204)).toEqual(Buffer.alloc(40, 4));
    expect(enc[240]).toBe(52);
    expect(enc[242]).toBe(3); // file and sname both used
  });

  it('replies follow option 55 (RFC 2132 §9.8): 53, 54, requested order, rest, 82 last; an oversized reply drops unrequested options, not itself', () => {
    const url = 'http://10.77.0.1:8080/boot/' + 'x'.repeat(100) + '.ipxe';
    const options = new Map<number, Buffer>([
      [53, Buffer.from([5])], [54, ip('10.77.0.1')], [51, Buffer.from([0, 0, 14, 16])], [1, ip('255.255.255.0')],
      [3, ip('10.77.0.1')], [6, Buffer.concat([ip('10.77.0.1'), ip('10.77.0.2')])], [12, str('pc01')],
      [224, Buffer.alloc(120, 0xe0)], [225, Buffer.alloc(90, 0xe1)], // operator extras nobody asked for
      [67, str(url)], [17, str('iscsi:10.77.0.1::3260:1:iqn.2010-01.lan.example:' + 'd'.repeat(20))],
      [203, str('iqn.2010-01.lan.example:initiator:pc01')], [82, Buffer.from([1, 4, 0, 0, 0, 7])],
    ]);
    const reply = baseMsg({ op: BOOTREPLY, file: 'undionly.kpxe', options });
    const requested = [1, 3, 6, 12, 17, 203, 67];
    // Without option 55 handling the reply does not fit in 548 bytes (file is taken, sname alone is too small).
    expect(() => encode(reply, { maxLength: 548 })).toThrow(DhcpEncodeError);

    const dropped: number[][] = [];
    const enc = encode(reply, { maxLength: 548, requested, onDrop: (c) => dropped.push(c) });
    expect(enc.length).toBeLessThanOrEqual(548);
    expect(dropped).toEqual([[225, 224]]);
    const dec = decode(enc);
    for (const code of [53, 54, 51, 82, ...requested]) expect(dec.options.get(code), `option ${code}`).toEqual(options.get(code));
    expect(dec.options.has(224) || dec.options.has(225)).toBe(false);
    expect(dec.file).toBe('undionly.kpxe');

    // Order on the wire when everything fits.
    const order = (buf: Buffer) => {
      const codes: number[] = [];
      for (let i = 240; buf[i] !== 255; i += 2 + buf[i + 1]!) if (buf[i] !== 52 && buf[i] !== 0) codes.push(buf[i]!);
      return codes;
    };
    const small = baseMsg({ op: BOOTREPLY, options: new Map<number, Buffer>([
      [1, ip('255.255.255.0')], [82, Buffer.from([1, 1, 9])], [3, ip('10.77.0.1')], [51, Buffer.from([0, 0, 1, 0])],
      [54, ip('10.77.0.1')], [6, ip('10.77.0.1')], [53, Buffer.from([2])], [15, str('lan')],
    ]) });
    expect(order(encode(small, { requested: [6, 15, 1, 99] }))).toEqual([53, 54, 6, 15, 1, 3, 51, 82]);
    // No parameter list given: map order, as before.
    expect(order(encode(small))).toEqual([1, 82, 3, 51, 54, 6, 53, 15]);
    // Still too big with only requested (and essential) options left: an encode error, as before.
    expect(() => encode(reply, { maxLength: 300, requested: [...requested, 224, 225] })).toThrow(DhcpEncodeError);
  });

  it('unknown options survive decode → encode byte for byte, in order', () => {
    const opts = Buffer.from([53, 1, 3, 250, 3, 1, 2, 3, 224, 0, 61, 7, 1, 0, 0xff, 0, 0x10, 0x80, 0, 255]);
    const buf = Buffer.concat([encode(baseMsg()).subarray(0, 240), opts]);
    const m = decode(buf);
    expect([...m.options.keys()]).toEqual([53, 250, 224, 61]);
    expect(m.options.get(61)).toEqual(Buffer.from([1, 0, 0xff, 0, 0x10, 0x80, 0]));
    expect(encode(m)).toEqual(buf);
  });

  it('throws DhcpDecodeError on malformed input', () => {
    const good = encode(baseMsg());
    const cases: Buffer[] = [
      Buffer.alloc(10),
      Buffer.concat([good.subarray(0, 240)]).fill(0, 236, 240), // no cookie
      Buffer.concat([good.subarray(0, 240), Buffer.from([12, 10, 1, 2])]), // truncated option
      Buffer.concat([good.subarray(0, 240), Buffer.from([12])]), // length missing
      Buffer.concat([good.subarray(0, 240), Buffer.from([52, 1, 7, 255])]), // bad overload
    ];
    const badOp = Buffer.from(good);
    badOp[0] = 9;
    cases.push(badOp);
    const badHlen = Buffer.from(good);
    badHlen[2] = 17;
    cases.push(badHlen);
    for (const c of cases) expect(() => decode(c)).toThrow(DhcpDecodeError);
  });
});

describe('typed options', () => {
  it('user class 77: bare iPXE and RFC 3004 lists', () => {
    expect(decodeUserClasses(Buffer.from('iPXE'))).toEqual(['iPXE']);
    expect(decodeUserClasses(userClassesRfc3004(['iPXE']))).toEqual(['iPXE']);
    expect(decodeUserClasses(userClassesRfc3004(['a', 'gPXE']))).toEqual(['a', 'gPXE']);
    expect(decodeUserClasses(Buffer.from('\x05ab'))).toEqual(['\x05ab']);
  });

  it('93 list of u16, 94, 97', () => {
    const o = new Map<number, Buffer>([[93, Buffer.from([0, 7, 0, 9])], [94, Buffer.from([1, 3, 16])], [97, Buffer.concat([Buffer.from([0]), Buffer.alloc(16, 0xab)])]]);
    expect(readClientArch(o)).toEqual([7, 9]);
    expect(readClientNdi(o)).toEqual({ type: 1, major: 3, minor: 16 });
    expect(readUuid(o)).toBe('ab'.repeat(16));
    o.set(93, Buffer.from([1]));
    expect(() => readClientArch(o)).toThrow(DhcpDecodeError);
  });

  it('175 suboptions decode; 176 encodes', () => {
    const enc = encodeSuboptions([[176, Buffer.from([1])]]);
    expect(enc).toEqual(Buffer.from([176, 1, 1]));
    const d = decodeSuboptions(Buffer.from([0x13, 1, 1, 0x11, 1, 1, 0, 255]), 175);
    expect([...d.keys()]).toEqual([0x13, 0x11]);
    expect(() => decodeSuboptions(Buffer.from([0x13, 5, 1]), 175)).toThrow(DhcpDecodeError);
    expect(encodeSuboptions([[6, Buffer.from([8])]], true)).toEqual(Buffer.from([6, 1, 8, 255]));
  });

  it('119 domain search with compression, 121 classless routes', () => {
    const wire = Buffer.from([3, 0x6c, 0x61, 0x6e, 0, 1, 0x61, 0xc0, 0]);
    expect(decodeDomainSearch(wire)).toEqual(['lan', 'a.lan']);
    expect(decodeDomainSearch(encodeDomainSearch(['eng.example.com', 'example.com']))).toEqual(['eng.example.com', 'example.com']);
    expect(() => decodeDomainSearch(Buffer.from([0xc0, 0]))).toThrow(DhcpDecodeError);
    const routes = [{ destination: '10.0.0.0/8', router: '10.77.0.1' }, { destination: '0.0.0.0/0', router: '10.77.0.254' }, { destination: '192.168.5.128/25', router: '10.77.0.2' }];
    const rb = encodeClasslessRoutes(routes);
    expect(rb.subarray(0, 6)).toEqual(Buffer.from([8, 10, 10, 77, 0, 1]));
    expect(decodeClasslessRoutes(rb)).toEqual(routes);
  });

  it('ipToInt refuses a non-address with DhcpEncodeError', () => {
    expect(ipToInt('10.77.0.1')).toBe(0x0a4d0001);
    for (const bad of ['1.2.3', '1.2.3.4.5', '256.1.1.1', 'a.b.c.d', '1..2.3', '', '1.2.3.4 ', '1.2.3.1000']) {
      expect(() => ipToInt(bad)).toThrow(DhcpEncodeError);
    }
  });

  it('helpers', () => {
    expect(ip('10.77.0.1')).toEqual(Buffer.from([10, 77, 0, 1]));
    expect(str('PXEClient').toString()).toBe('PXEClient');
    expect(clientKey(new Map(), 1, '525400aabbcc')).toBe('hw:01:525400aabbcc');
  });
});
