import { BlockList, isIPv6 } from 'node:net';

/** A matcher for ADMIN_IP_ALLOWLIST (addresses and CIDRs, IPv4 and IPv6); undefined when the list is empty. */
export function ipAllowlist(entries: string[]): ((ip: string) => boolean) | undefined {
  if (entries.length === 0) return undefined;
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', bits] = entry.split('/');
    const type = isIPv6(address) ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return (ip) => {
    // An IPv4 client on a dual-stack socket shows up as ::ffff:a.b.c.d.
    const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
    if (v4) return list.check(v4, 'ipv4');
    return isIPv6(ip) ? list.check(ip, 'ipv6') : list.check(ip, 'ipv4');
  };
}
