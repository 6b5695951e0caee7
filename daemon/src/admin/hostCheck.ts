import { isIP } from 'node:net';

/**
 * DNS rebinding defence: a page on attacker.example can make its own name resolve to this unit's
 * address, and the victim's browser then talks to the unit as "attacker.example" (same origin for
 * the page, so it reads the answers). The Host header still says attacker.example, so the server
 * answers only names that are its own:
 * - any IP literal (a browser sends an IP as Host only to a page served from that IP),
 * - `localhost` and `*.localhost`,
 * - this machine's host name and `<hostname>.local` (mDNS),
 * - the names in `admin.allowedHosts` (exact, or `*.example.com` for any sub-name; `*` turns the
 *   check off, for a reverse proxy that rewrites Host).
 * A request without Host (HTTP/1.0 tools) is answered: a browser always sends one.
 */
export class HostCheck {
  private readonly exact = new Set<string>();
  private readonly suffixes: string[] = [];
  private readonly any: boolean;

  constructor(allowedHosts: readonly string[], hostname: string) {
    this.any = allowedHosts.includes('*');
    for (const name of [hostname, `${hostname}.local`, ...allowedHosts]) {
      const n = name.trim().toLowerCase().replace(/\.$/, '');
      if (!n || n === '*') continue;
      if (n.startsWith('*.')) this.suffixes.push(n.slice(1));
      else this.exact.add(n);
    }
  }

  /** The host name part of a Host header value (without port; IPv6 without brackets), lower case. */
  static hostnameOf(header: string): string {
    const h = header.trim().toLowerCase();
    if (h.startsWith('[')) return h.slice(1, h.indexOf(']') > 0 ? h.indexOf(']') : undefined);
    const colon = h.lastIndexOf(':');
    return (colon >= 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h).replace(/\.$/, '');
  }

  allows(header: string | undefined): boolean {
    if (this.any || header === undefined) return true;
    const name = HostCheck.hostnameOf(header);
    if (isIP(name)) return true;
    if (name === 'localhost' || name.endsWith('.localhost')) return true;
    if (this.exact.has(name)) return true;
    return this.suffixes.some((s) => name.endsWith(s) && name.length > s.length);
  }
}
