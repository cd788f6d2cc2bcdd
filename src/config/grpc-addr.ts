/**
 * The gRPC address agents dial (`--grpc-addr`, given to them as `WOODPECKER_SERVER`): `host:port` without a scheme,
 * `[ipv6]:port`, or `unix:///path` (the agent supports a socket; reference woodpecker-server-api.md §1.6).
 */
export type GrpcAddr =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'unix'; path: string };

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;

/**
 * Parses a gRPC address.
 * @returns the address, or a sentence saying what is wrong (without the flag name).
 */
export function parseGrpcAddr(raw: string): GrpcAddr | string {
  const addr = raw.trim();
  const example = 'e.g. ci.example.com:9000';
  if (addr === '') return `it is empty: set the address the agents dial, ${example}`;
  if (addr.startsWith('unix://')) {
    const path = addr.slice('unix://'.length);
    return path.startsWith('/') && path.length > 1 ? { kind: 'unix', path } : `${JSON.stringify(addr)} is not unix:///absolute/path`;
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(addr);
  if (scheme) {
    return (
      `${JSON.stringify(addr)} has a scheme (${scheme[1] ?? ''}://): write host:port only, ${example}` +
      ' (TLS is --grpc-secure, WOODPECKER_GRPC_SECURE)'
    );
  }
  let host: string;
  let portText: string;
  if (addr.startsWith('[')) {
    const close = addr.indexOf(']');
    if (close < 0 || addr[close + 1] !== ':') return `${JSON.stringify(addr)} is not [ipv6]:port`;
    host = addr.slice(1, close);
    portText = addr.slice(close + 2);
    if (!IPV6.test(host) || !host.includes(':')) return `${JSON.stringify(addr)} has an invalid IPv6 address`;
  } else {
    const colon = addr.lastIndexOf(':');
    if (colon < 0) return `${JSON.stringify(addr)} has no port: write host:port, ${example}`;
    host = addr.slice(0, colon);
    portText = addr.slice(colon + 1);
    if (host.includes(':')) return `${JSON.stringify(addr)} is not host:port (write IPv6 as [addr]:port)`;
    if (host === '') return `${JSON.stringify(addr)} has no host: write host:port, ${example}`;
    if (!HOSTNAME.test(host)) return `${JSON.stringify(addr)} has an invalid host name ${JSON.stringify(host)}`;
  }
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) return `${JSON.stringify(addr)} has an invalid port (1-65535)`;
  return { kind: 'tcp', host, port };
}
