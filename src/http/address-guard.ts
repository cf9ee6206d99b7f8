/**
 * Which addresses a media download may reach. A message names any URL it
 * likes, so without this `--media` fetches cloud metadata (169.254.169.254),
 * the router's admin page or a database's HTTP port on the machine running the
 * backup, keeps the answer in media/ and links it from the transcript.
 *
 * - link-local (169.254.0.0/16, fe80::/10): never;
 * - loopback, private, shared and other non-public ranges: only on the API's
 *   own host (a self-hosted API serves its files itself), or everywhere with
 *   `--media-allow-private`;
 * - the rest of the internet: yes.
 *
 * Checked on the resolved addresses, at every hop of a redirect, before the
 * request (so a host behind a proxy is checked too), and again as a direct
 * connection resolves its host (so a name that answers a public address first
 * and a private one next is refused too).
 */
import { lookup as lookupCallback, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { RemoteError } from '../errors.js';

const LINK_LOCAL = new BlockList();
LINK_LOCAL.addSubnet('169.254.0.0', 16, 'ipv4');
LINK_LOCAL.addSubnet('fe80::', 10, 'ipv6');

// Not the public internet (IANA special-purpose registries); BlockList matches IPv4-mapped IPv6 (::ffff:a.b.c.d) too.
const NOT_PUBLIC = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], // "this network": 0.0.0.0 reaches the local machine
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and the broadcast address
] as const) {
  NOT_PUBLIC.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7], // unique local
  ['fec0::', 10], // site-local (deprecated, still routed inside some networks)
  ['ff00::', 8], // multicast
] as const) {
  NOT_PUBLIC.addSubnet(net, bits, 'ipv6');
}

/** A media URL (or a hop of its redirect) whose address is not one a download may reach: not retried, not a failure. */
export class RefusedAddressError extends RemoteError {}

export interface AddressGuardOptions {
  /** the API's host name: its addresses may be private (a self-hosted API serving its own files) */
  apiHost: string;
  /** --media-allow-private: loopback and private addresses everywhere (link-local still never) */
  allowPrivate: boolean;
}

export class AddressGuard {
  private constructor(
    private readonly apiHost: string,
    private readonly apiAddresses: ReadonlySet<string>,
    private readonly allowPrivate: boolean,
  ) {}

  /** The guard of a run: the API host's own addresses are resolved once (a failure leaves only its name trusted). */
  static async create(options: AddressGuardOptions): Promise<AddressGuard> {
    const host = bare(options.apiHost);
    const addresses = new Set<string>();
    if (isIP(host)) addresses.add(host);
    else {
      for (const { address } of await lookup(host, { all: true }).catch(() => [] as LookupAddress[])) addresses.add(address);
    }
    return new AddressGuard(host, addresses, options.allowPrivate);
  }

  /** Why `host` at `address` may not be fetched, or undefined when it may. */
  refusal(host: string, address: string): string | undefined {
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    const where = bare(host) === address ? address : `${bare(host)} (${address})`;
    if (LINK_LOCAL.check(address, family)) return `${where} is link-local, where cloud metadata lives: never fetched`;
    if (!NOT_PUBLIC.check(address, family) || this.allowPrivate) return undefined;
    if (bare(host) === this.apiHost || this.apiAddresses.has(address)) return undefined;
    return `${where} is a loopback or private address, not the API's host: fetched only with --media-allow-private`;
  }

  /** Throws RefusedAddressError when the URL's host resolves to an address it may not reach; DNS failures are thrown as they are. */
  async check(url: URL): Promise<void> {
    const host = bare(url.hostname);
    const addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((entry) => entry.address);
    for (const address of addresses) {
      const reason = this.refusal(host, address);
      if (reason) throw new RefusedAddressError(reason);
    }
  }

  /** net.connect's `lookup`: the addresses a direct connection would use, refused as `check` does. */
  readonly lookup = (hostname: string, options: LookupAllOptions | number | object, callback: (...args: unknown[]) => void): void => {
    const opts = typeof options === 'number' ? { family: options } : options;
    lookupCallback(hostname, { ...opts, all: true }, (error, addresses) => {
      if (error) return callback(error);
      for (const { address } of addresses) {
        const reason = this.refusal(hostname, address);
        if (reason) return callback(new RefusedAddressError(reason));
      }
      if ((opts as LookupAllOptions).all) return callback(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  };
}

/** A URL host name without the brackets of an IPv6 literal, lower-cased. */
function bare(host: string): string {
  return host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
}
