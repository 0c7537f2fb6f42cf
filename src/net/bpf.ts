/**
 * Classic BPF programs for AF_PACKET sockets (SO_ATTACH_FILTER).
 *
 * A filter runs in the kernel on every frame the socket would see and returns
 * how many bytes to keep (0 = drop), so a DHCP or RPL socket never wakes the
 * event loop for unrelated traffic. Offsets are from the start of the Ethernet
 * header (SOCK_RAW). Opcode values are linux/filter.h (bpf_common.h).
 */

export interface BpfInstruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

// Instruction classes
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_RET = 0x06;
// Load sizes
export const BPF_W = 0x00; // 32 bit
export const BPF_H = 0x08; // 16 bit
export const BPF_B = 0x10; // 8 bit
// Addressing modes
export const BPF_IMM = 0x00;
export const BPF_ABS = 0x20; // packet[k]
export const BPF_IND = 0x40; // packet[X + k]
export const BPF_MSH = 0xa0; // X = 4 * (packet[k] & 0x0f): the IPv4 header length
// Jumps (relative to the next instruction)
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;
// Operand source
export const BPF_K = 0x00;
export const BPF_X = 0x08;

/** What an accepting filter returns: bytes to keep. Like tcpdump's default snap length. */
export const ACCEPT_BYTES = 0x40000;

const ETHERTYPE_IPV4 = 0x0800;
const IPPROTO_UDP = 17;
const MAX_8023_LENGTH = 1500;
// jt/jf are 8-bit, and each value costs one instruction between test and target.
const MAX_VALUES = 200;

export function stmt(code: number, k: number): BpfInstruction {
  return { code, jt: 0, jf: 0, k };
}

export function jump(code: number, k: number, jt: number, jf: number): BpfInstruction {
  return { code, jt, jf, k };
}

function values(v: number | number[], max: number, what: string): number[] {
  const list = [...new Set(Array.isArray(v) ? v : [v])];
  if (list.length === 0 || list.length > MAX_VALUES) throw new RangeError(`${what}: need 1..${MAX_VALUES} values`);
  for (const x of list) {
    if (!Number.isInteger(x) || x < 0 || x > max) throw new RangeError(`${what}: ${x} is not in 0..${max}`);
  }
  return list;
}

/** "A == any of values ? accept : drop", with A already loaded. */
function matchAny(list: number[]): BpfInstruction[] {
  const out: BpfInstruction[] = [];
  list.forEach((v, i) => {
    // True: skip the remaining tests and the drop; false: fall through to the next test.
    out.push(jump(BPF_JMP | BPF_JEQ | BPF_K, v, list.length - i, 0));
  });
  out.push(stmt(BPF_RET | BPF_K, 0));
  out.push(stmt(BPF_RET | BPF_K, ACCEPT_BYTES));
  return out;
}

/** Jump target placeholder in the builders below: the program's "ret #0". */
const DROP = -1;

/** Resolve DROP jump targets to the "ret #0" that ends `prog` (before the accepting ret). */
function toDrop(prog: BpfInstruction[]): BpfInstruction[] {
  const drop = prog.length - 2;
  return prog.map((ins, i) => ({
    ...ins,
    jt: ins.jt === DROP ? drop - i - 1 : ins.jt,
    jf: ins.jf === DROP ? drop - i - 1 : ins.jf,
  }));
}

/**
 * IPv4 UDP datagrams whose destination port is one of `port`. The UDP header
 * is found through the IHL byte (IP options allowed); non-first fragments have
 * no UDP header and are dropped (first fragments of a fragmented datagram pass
 * and are refused by the codec).
 *
 * `linkScope`: only frames the kernel's UDP path cannot hand over with their
 * interface: Ethernet broadcast/multicast, or from IPv4 source 0.0.0.0
 * (a client without an address). A unicast from a host with an address is
 * left to a UDP socket (see udpLinkScopeExcept).
 */
export function udpDstPort(port: number | number[], opts: { linkScope?: boolean } = {}): BpfInstruction[] {
  const ports = values(port, 0xffff, 'udpDstPort');
  const prog: BpfInstruction[] = [
    stmt(BPF_LD | BPF_H | BPF_ABS, 12), // ethertype
    jump(BPF_JMP | BPF_JEQ | BPF_K, ETHERTYPE_IPV4, 0, DROP),
    stmt(BPF_LD | BPF_B | BPF_ABS, 14 + 9), // IP protocol
    jump(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, DROP),
    stmt(BPF_LD | BPF_H | BPF_ABS, 14 + 6), // flags + fragment offset
    jump(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, DROP, 0), // offset != 0 -> drop
  ];
  if (opts.linkScope) {
    prog.push(
      stmt(BPF_LD | BPF_B | BPF_ABS, 0), // first byte of the destination MAC
      jump(BPF_JMP | BPF_JSET | BPF_K, 1, 2, 0), // group bit: broadcast or multicast -> ports
      stmt(BPF_LD | BPF_W | BPF_ABS, 14 + 12), // IPv4 source
      jump(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, DROP), // 0.0.0.0 -> ports, else drop
    );
  }
  prog.push(
    stmt(BPF_LDX | BPF_B | BPF_MSH, 14), // X = IP header length
    stmt(BPF_LD | BPF_H | BPF_IND, 14 + 2), // UDP destination port
  );
  return toDrop([...prog, ...matchAny(ports)]);
}

/** linux/filter.h ancillary offsets: loads of skb metadata, and from the network header, in any socket's filter. */
export const SKF_AD_OFF = -0x1000;
export const SKF_AD_PKTTYPE = 4;
export const SKF_AD_IFINDEX = 8;
export const SKF_NET_OFF = -0x100000;
const PACKET_HOST = 0;

/**
 * For a UDP socket beside packet sockets on `ifindexes`: drop what those
 * packet sockets take (udpDstPort's linkScope: arrived on one of these
 * interfaces as Ethernet broadcast/multicast, or from 0.0.0.0); keep the
 * rest (unicast from hosts with an address, and everything from other
 * interfaces). So each datagram is received once, by one socket, decided by
 * the kernel.
 */
export function udpLinkScopeExcept(ifindexes: number[]): BpfInstruction[] {
  if (ifindexes.length === 0) return [stmt(BPF_RET | BPF_K, ACCEPT_BYTES)];
  const list = values(ifindexes, 0x7fffffff, 'udpLinkScopeExcept');
  const prog: BpfInstruction[] = [stmt(BPF_LD | BPF_W | BPF_ABS, (SKF_AD_OFF + SKF_AD_IFINDEX) >>> 0)];
  // A served interface: on to the link-scope test (past the accept below); else accept.
  list.forEach((v, i) => prog.push(jump(BPF_JMP | BPF_JEQ | BPF_K, v, list.length - i, 0)));
  prog.push(
    stmt(BPF_RET | BPF_K, ACCEPT_BYTES),
    stmt(BPF_LD | BPF_W | BPF_ABS, (SKF_AD_OFF + SKF_AD_PKTTYPE) >>> 0),
    jump(BPF_JMP | BPF_JEQ | BPF_K, PACKET_HOST, 0, DROP), // broadcast/multicast -> drop
    stmt(BPF_LD | BPF_W | BPF_ABS, (SKF_NET_OFF + 12) >>> 0), // IPv4 source
    jump(BPF_JMP | BPF_JEQ | BPF_K, 0, DROP, 1), // 0.0.0.0 -> drop, else over it to the accept
    stmt(BPF_RET | BPF_K, 0),
    stmt(BPF_RET | BPF_K, ACCEPT_BYTES),
  );
  return toDrop(prog);
}

/**
 * IEEE 802.3 length-field frames (type/length <= 1500) whose LLC DSAP is one
 * of `saps`, e.g. llcSap([0xfc, 0xf8]) for RPL.
 */
export function llcSap(saps: number[]): BpfInstruction[] {
  const list = values(saps, 0xff, 'llcSap');
  const prog: BpfInstruction[] = [
    stmt(BPF_LD | BPF_H | BPF_ABS, 12), // type/length
    jump(BPF_JMP | BPF_JGT | BPF_K, MAX_8023_LENGTH, 0, 0), // an EtherType: true -> drop
    stmt(BPF_LD | BPF_B | BPF_ABS, 14), // DSAP
  ];
  const tail = matchAny(list);
  prog[1].jt = prog.length + tail.length - 2 - 2;
  return [...prog, ...tail];
}

/** What a filter's ancillary loads see (bpfRun); pkt[netOffset] is the IP header (default 14, an Ethernet frame). */
export interface BpfMeta {
  pktType?: number;
  ifindex?: number;
  netOffset?: number;
}

/**
 * Run a program in JS the way the kernel does, for the subset of opcodes the
 * builders above use. Tests use it to check programs without a socket.
 * Returns the number of bytes accepted (0 = drop).
 */
export function bpfRun(prog: BpfInstruction[], pkt: Buffer, meta: BpfMeta = {}): number {
  let A = 0;
  let X = 0;
  for (let pc = 0; pc < prog.length; pc++) {
    const { code, jt, jf, k } = prog[pc];
    const load = (off: number, size: number): number | undefined => {
      const k32 = off | 0;
      if (k32 === SKF_AD_OFF + SKF_AD_PKTTYPE) return meta.pktType ?? PACKET_HOST;
      if (k32 === SKF_AD_OFF + SKF_AD_IFINDEX) return meta.ifindex ?? 0;
      if (k32 >= SKF_NET_OFF && k32 < SKF_AD_OFF) off = (meta.netOffset ?? 14) + (k32 - SKF_NET_OFF);
      if (off < 0 || off + size > pkt.length) return undefined;
      return size === 1 ? pkt[off] : size === 2 ? pkt.readUInt16BE(off) : pkt.readUInt32BE(off);
    };
    switch (code) {
      case BPF_LD | BPF_W | BPF_ABS:
      case BPF_LD | BPF_H | BPF_ABS:
      case BPF_LD | BPF_B | BPF_ABS:
      case BPF_LD | BPF_W | BPF_IND:
      case BPF_LD | BPF_H | BPF_IND:
      case BPF_LD | BPF_B | BPF_IND: {
        const size = (code & 0x18) === BPF_B ? 1 : (code & 0x18) === BPF_H ? 2 : 4;
        const v = load(((code & 0xe0) === BPF_IND ? X : 0) + k, size);
        if (v === undefined) return 0; // out-of-bounds load drops, like the kernel
        A = v;
        break;
      }
      case BPF_LDX | BPF_B | BPF_MSH: {
        const v = load(k, 1);
        if (v === undefined) return 0;
        X = (v & 0x0f) * 4;
        break;
      }
      case BPF_JMP | BPF_JEQ | BPF_K:
        pc += A === k >>> 0 ? jt : jf;
        break;
      case BPF_JMP | BPF_JGT | BPF_K:
        pc += A > k >>> 0 ? jt : jf;
        break;
      case BPF_JMP | BPF_JGE | BPF_K:
        pc += A >= k >>> 0 ? jt : jf;
        break;
      case BPF_JMP | BPF_JSET | BPF_K:
        pc += (A & k) !== 0 ? jt : jf;
        break;
      case BPF_RET | BPF_K:
        return k >>> 0;
      default:
        throw new Error(`bpfRun: opcode 0x${code.toString(16)} not supported`);
    }
  }
  return 0;
}
