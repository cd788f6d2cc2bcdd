import { lookup } from 'node:dns/promises';
import { isIP, createConnection } from 'node:net';
import { parseGrpcAddr } from '../config/grpc-addr.js';
import { errorMessage } from '../util/guards.js';

/** The network calls of the probe (injected in tests). */
export interface GrpcProbeDeps {
  /** Every address `host` resolves to; rejects with an error whose `code` says why (ENOTFOUND…). */
  resolve: (host: string) => Promise<string[]>;
  /** Resolves `undefined` when a TCP connection was accepted within `timeoutMs`, else the reason (ECONNREFUSED…). */
  connect: (host: string, port: number, timeoutMs: number) => Promise<string | undefined>;
  timeoutMs: number;
}

export const realGrpcProbeDeps: GrpcProbeDeps = {
  resolve: async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address),
  connect: (host, port, timeoutMs) =>
    new Promise((resolve) => {
      const socket = createConnection({ host, port });
      const done = (why: string | undefined): void => {
        socket.destroy();
        resolve(why);
      };
      socket.setTimeout(timeoutMs, () => done(`no answer within ${timeoutMs / 1000} s`));
      socket.once('connect', () => done(undefined));
      socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? errorMessage(err)));
    }),
  timeoutMs: 3000,
};

/** Why an agent on the internet cannot use this IP, or undefined for a public address. */
export function nonPublicKind(ip: string): string | undefined {
  const v = isIP(ip);
  if (v === 4) {
    const [a = 0, b = 0] = ip.split('.').map(Number);
    if (a === 127) return 'a loopback address';
    if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return 'a private address';
    if (a === 100 && b >= 64 && b <= 127) return 'a carrier-grade NAT address';
    if (a === 169 && b === 254) return 'a link-local address';
    if (a === 0) return 'an unspecified address';
    return undefined;
  }
  if (v === 6) {
    const x = ip.toLowerCase();
    if (x === '::1') return 'a loopback address';
    if (x === '::') return 'an unspecified address';
    if (/^f[cd]/.test(x)) return 'a private address';
    if (/^fe[89ab]/.test(x)) return 'a link-local address';
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(x);
    if (mapped) return nonPublicKind(mapped[1] as string);
  }
  return undefined;
}

const WHY = 'agents on Timeweb servers dial it from the internet';

/**
 * Start-up check of `--grpc-addr` from this host (never fatal): does the name resolve, is it a public address, does
 * the port accept a TCP connection? Returns one warning sentence per problem found (empty = looks reachable).
 * A dot-less name (a compose service name such as `woodpecker-server`) is reported without being looked up.
 */
export async function probeGrpcAddr(addr: string, deps: GrpcProbeDeps = realGrpcProbeDeps): Promise<string[]> {
  const parsed = parseGrpcAddr(addr);
  const at = `--grpc-addr ${addr} (WOODPECKER_GRPC_ADDR)`;
  if (typeof parsed === 'string') return [`${at}: ${parsed}`];
  if (parsed.kind === 'unix') return [`${at} is a unix socket on this host: ${WHY} and cannot reach it; use the server's public host:port`];
  const { host, port } = parsed;
  const warnings: string[] = [];
  let ips: string[];
  if (isIP(host) !== 0) {
    ips = [host];
  } else if (host.toLowerCase() === 'localhost') {
    return [`${at} is this host's loopback name: ${WHY}; use the server's public DNS name, e.g. ci.example.com:${port}`];
  } else if (!host.replace(/\.$/, '').includes('.')) {
    return [
      `${at} is a name without a dot, like a compose service name: only containers on this host's network can resolve ` +
        `it, while ${WHY} through public DNS. Use the server's public DNS name, e.g. ci.example.com:${port}`,
    ];
  } else {
    try {
      ips = await deps.resolve(host);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? errorMessage(err);
      return [`${at}: ${host} does not resolve from here (${code}); ${WHY} through public DNS, which must know the name`];
    }
  }
  const kinds = ips.map(nonPublicKind);
  if (ips.length > 0 && kinds.every((k) => k !== undefined)) {
    warnings.push(
      `${at}: ${host === ips[0] ? host : `${host} resolves to ${ips.join(', ')}, which`} is ${kinds[0] ?? ''}; ${WHY}, ` +
        'so this works only if they share a private network with the server. Use its public address',
    );
  }
  const refused = await deps.connect(ips[0] ?? host, port, deps.timeoutMs);
  if (refused !== undefined) {
    warnings.push(
      `${at}: nothing accepted a TCP connection to ${ips[0] ?? host}:${port} from here (${refused}); check that the ` +
        "Woodpecker server's gRPC port is published and open in the firewall, or the agents will fail the same way",
    );
  }
  return warnings;
}
