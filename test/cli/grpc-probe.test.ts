import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { nonPublicKind, probeGrpcAddr, realGrpcProbeDeps } from '../../src/cli/grpc-probe.js';
import type { GrpcProbeDeps } from '../../src/cli/grpc-probe.js';

/** Fake network: a DNS table and a set of host:port that accept connections. Records every call. */
function fakeNet(dns: Record<string, string[]>, open: string[]) {
  const calls: string[] = [];
  const deps: GrpcProbeDeps = {
    resolve: async (host) => {
      calls.push(`resolve ${host}`);
      const ips = dns[host];
      if (ips === undefined) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
      return ips;
    },
    connect: async (host, port) => {
      calls.push(`connect ${host}:${port}`);
      return open.includes(`${host}:${port}`) ? undefined : 'ECONNREFUSED';
    },
    timeoutMs: 100,
  };
  return { deps, calls };
}

describe('probeGrpcAddr (injected network)', () => {
  const net = { 'ci.example.com': ['203.0.113.7'], 'lan.example.com': ['10.1.2.3'], 'dual.example.com': ['192.168.1.5', '203.0.113.9'] };
  const open = ['203.0.113.7:9000', '10.1.2.3:9000', '192.168.1.5:9000'];
  const cases: Array<{ addr: string; want: RegExp[]; calls?: string[] }> = [
    { addr: 'ci.example.com:9000', want: [], calls: ['resolve ci.example.com', 'connect 203.0.113.7:9000'] },
    { addr: 'ci.example.com:9001', want: [/nothing accepted a TCP connection to 203\.0\.113\.7:9001 from here \(ECONNREFUSED\)/] },
    { addr: 'woodpecker-server:9000', want: [/name without a dot, like a compose service name/], calls: [] },
    { addr: 'localhost:9000', want: [/loopback name/], calls: [] },
    { addr: 'nope.example.com:9000', want: [/does not resolve from here \(ENOTFOUND\)/], calls: ['resolve nope.example.com'] },
    { addr: 'lan.example.com:9000', want: [/resolves to 10\.1\.2\.3, which is a private address/] },
    { addr: 'dual.example.com:9000', want: [] },
    { addr: '127.0.0.1:9000', want: [/127\.0\.0\.1 is a loopback address/, /nothing accepted/], calls: ['connect 127.0.0.1:9000'] },
    { addr: '[::1]:9000', want: [/::1 is a loopback address/, /nothing accepted/] },
    { addr: 'unix:///run/woodpecker.sock', want: [/unix socket on this host/], calls: [] },
  ];
  for (const c of cases) {
    it(`${c.addr}: ${c.want.length === 0 ? 'no warning' : c.want.map(String).join(', ')}`, async () => {
      const { deps, calls } = fakeNet(net, open);
      const warnings = await probeGrpcAddr(c.addr, deps);
      assert.equal(warnings.length, c.want.length, warnings.join('\n'));
      c.want.forEach((re, i) => assert.match(warnings[i] ?? '', re));
      for (const w of warnings) assert.match(w, /--grpc-addr .* \(WOODPECKER_GRPC_ADDR\)/);
      if (c.calls) assert.deepEqual(calls, c.calls);
    });
  }
});

describe('nonPublicKind', () => {
  const table: Array<[string, string | undefined]> = [
    ['127.0.0.1', 'a loopback address'],
    ['10.0.0.1', 'a private address'],
    ['172.16.0.1', 'a private address'],
    ['172.32.0.1', undefined],
    ['192.168.0.1', 'a private address'],
    ['100.64.0.1', 'a carrier-grade NAT address'],
    ['169.254.169.254', 'a link-local address'],
    ['203.0.113.7', undefined],
    ['::1', 'a loopback address'],
    ['fd00::1', 'a private address'],
    ['fe80::1', 'a link-local address'],
    ['::ffff:10.0.0.1', 'a private address'],
    ['2001:db8::1', undefined],
  ];
  for (const [ip, kind] of table) it(`${ip} → ${String(kind)}`, () => assert.equal(nonPublicKind(ip), kind));
});

describe('probeGrpcAddr (real sockets on 127.0.0.1)', () => {
  it('a listening port: only the loopback warning; a closed port: also the refused connection', async () => {
    const server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const up = await probeGrpcAddr(`127.0.0.1:${port}`, realGrpcProbeDeps);
      assert.equal(up.length, 1, up.join('\n'));
      assert.match(up[0] ?? '', /loopback address/);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
    const down = await probeGrpcAddr(`127.0.0.1:${port}`, realGrpcProbeDeps);
    assert.equal(down.length, 2, down.join('\n'));
    assert.match(down[1] ?? '', /\(ECONNREFUSED\)/);
  });
});
