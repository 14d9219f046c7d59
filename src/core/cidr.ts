/**
 * Address sets written as CIDRs (`10.0.0.0/8`, `2001:db8::/32`, or a bare address), matched
 * with Node's BlockList. IPv4-mapped IPv6 peers (`::ffff:10.1.2.3`, what a dual-stack socket
 * reports) are matched as the IPv4 address they carry.
 */
import { BlockList, isIP } from 'node:net';

export interface CidrSet {
  has(address: string): boolean;
  readonly size: number;
}

/** The reason a CIDR is malformed, or null when it is fine (config validation uses this). */
export function cidrProblem(cidr: string): string | null {
  const slash = cidr.indexOf('/');
  const addr = slash < 0 ? cidr : cidr.slice(0, slash);
  const family = isIP(addr);
  if (family === 0) return `"${cidr}" is not an IP address or CIDR`;
  if (slash < 0) return null;
  const bits = cidr.slice(slash + 1);
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return `"${cidr}": prefix length must be 0..${max}`;
  return null;
}

/** `::ffff:a.b.c.d` → `a.b.c.d`; everything else unchanged. */
export function plainAddress(address: string): string {
  return address.length > 7 && address.slice(0, 7).toLowerCase() === '::ffff:' && address.includes('.')
    ? address.slice(7)
    : address;
}

/** Builds the set; call cidrProblem first (config validation did) — a bad entry throws here. */
export function cidrSet(cidrs: readonly string[]): CidrSet {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const problem = cidrProblem(cidr);
    if (problem !== null) throw new TypeError(problem);
    const slash = cidr.indexOf('/');
    const addr = slash < 0 ? cidr : cidr.slice(0, slash);
    const type = isIP(addr) === 4 ? 'ipv4' : 'ipv6';
    if (slash < 0) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(cidr.slice(slash + 1)), type);
  }
  return {
    size: cidrs.length,
    has(address) {
      const a = plainAddress(address);
      const family = isIP(a);
      if (family === 0) return false;
      return list.check(a, family === 4 ? 'ipv4' : 'ipv6');
    },
  };
}
