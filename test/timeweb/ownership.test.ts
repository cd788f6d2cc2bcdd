import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  agentNamePattern,
  classifyServer,
  floatingIpComment,
  isOwnedFloatingIp,
  isOwnedServer,
  legacyFloatingIpComment,
  legacyServerComment,
  markerAgentId,
  parseMarker,
  replaceMarker,
  serverComment,
} from '../../src/providers/timeweb/ownership.js';
import type { Ownership } from '../../src/providers/timeweb/ownership.js';
import { parseConfiguration, parsePresetCandidates, readTimewebOptions } from '../../src/providers/timeweb/options.js';
import { normaliseMb, osRequirements, resolveOs } from '../../src/providers/timeweb/resolve.js';
import { isBalanceError, isUnavailableError, publicIpv4, sanitiseHostname } from '../../src/providers/timeweb/provider.js';
import { TimewebApiError } from '../../src/providers/timeweb/client.js';
import type { TwOs, TwServer } from '../../src/providers/timeweb/types.js';

const A = { poolId: '1', installationId: 'inst-a' };
const B = { poolId: '1', installationId: 'inst-b' };

test('markers name the installation and round-trip, also for odd pool ids', () => {
  assert.equal(serverComment(A, 42), 'twcloud-scaler:inst=inst-a;pool=1;agent=42');
  assert.equal(floatingIpComment(A, 'pool-1-agent-x'), 'twcloud-scaler:inst=inst-a;pool=1;server=pool-1-agent-x');
  for (const pool of ['1', 'ci-pool', 'a;b=c d', 'пул']) {
    const owner = { poolId: pool, installationId: 'x-1' };
    assert.deepEqual(parseMarker(serverComment(owner, 7)), { inst: 'x-1', pool, agent: '7' });
    assert.deepEqual(parseMarker(floatingIpComment(owner, 'pool-x-agent-Ab')), { inst: 'x-1', pool, server: 'pool-x-agent-Ab' });
    assert.deepEqual(parseMarker(legacyServerComment(pool, 7)), { pool, agent: '7' });
  }
});

test('parseMarker is robust', () => {
  const table: [string | null | undefined, Record<string, string> | undefined][] = [
    [null, undefined],
    [undefined, undefined],
    ['', undefined],
    ['just a note', undefined],
    ['twcloud-scaler:', undefined],
    ['twcloud-scaler:agent=3', undefined],
    ['note: twcloud-scaler:pool=1;agent=3 (do not edit)', { pool: '1', agent: '3' }],
    ['twcloud-scaler:pool=1;;agent=3;junk', { pool: '1', agent: '3' }],
    ['twcloud-scaler:pool=%E0%A4%A;agent=3', { pool: '%E0%A4%A', agent: '3' }],
    ['twcloud-scaler:pool=1;pool=2', { pool: '1' }],
    ['TWCLOUD-SCALER:pool=1', undefined],
    // Only as a word of its own: another tool's prefix that ends like ours is not our marker.
    ['my-twcloud-scaler:pool=1;agent=3', undefined],
    ['legacytwcloud-scaler:pool=1;agent=3', undefined],
    ['note:twcloud-scaler:pool=1;agent=3', undefined],
    ['keep\ttwcloud-scaler:pool=1;agent=3', { pool: '1', agent: '3' }],
    ['my-twcloud-scaler:pool=2 twcloud-scaler:pool=1;agent=3', { pool: '1', agent: '3' }],
  ];
  for (const [comment, expected] of table) assert.deepEqual(parseMarker(comment), expected, String(comment));
});

test('ownership needs the name pattern AND this installation\'s marker for this pool', () => {
  const table: [string, string | null, Ownership][] = [
    ['pool-1-agent-AbCd', serverComment(A, 3), 'ours'],
    ['pool-1-agent-AbCd', `kept by ops ${serverComment(A, 3)}`, 'ours'],
    // Installation B shares the account AND the pool id: its servers are foreign to A.
    ['pool-1-agent-AbCd', serverComment(B, 3), 'other-installation'],
    // The current release's marker (no inst): adopted only with the Woodpecker server's proof.
    ['pool-1-agent-AbCd', legacyServerComment('1', 3), 'legacy'],
    ['pool-1-agent-AbCd', legacyServerComment('1', 'x'), 'lookalike'],
    ['pool-1-agent-AbCd', '', 'lookalike'],
    ['pool-1-agent-AbCd', null, 'lookalike'],
    ['pool-1-agent-AbCd', serverComment({ poolId: '2', installationId: 'inst-a' }, 3), 'other-pool'],
    ['pool-1-agent-AbCd', legacyServerComment('11', 3), 'other-pool'],
    ['pool-11-agent-AbCd', serverComment(A, 3), 'marker-foreign-name'],
    ['pool-1-builder', serverComment(A, 3), 'marker-foreign-name'],
    ['x-pool-1-agent-AbCd', serverComment(A, 3), 'marker-foreign-name'],
    ['pool-1-agent-AbCd-2', serverComment(A, 3), 'marker-foreign-name'],
    ['woodpecker-server', 'Woodpecker CI', 'foreign'],
    ['pool-1-agent-AbCd', `fork-${serverComment(A, 3)}`, 'lookalike'],
    ['pool-1-agent-AbCd', `fork:${serverComment(A, 3)}`, 'lookalike'],
  ];
  for (const [name, comment, kind] of table) {
    assert.equal(classifyServer({ name, comment }, A), kind, `${name} / ${comment}`);
    assert.equal(isOwnedServer({ name, comment }, A), kind === 'ours', `${name} / ${comment}`);
  }
  assert.ok(agentNamePattern('a.b').test('pool-a.b-agent-X1'));
  assert.ok(!agentNamePattern('a.b').test('pool-aXb-agent-X1'));
  assert.ok(isOwnedFloatingIp({ comment: floatingIpComment(A, 'n') }, A));
  assert.ok(!isOwnedFloatingIp({ comment: floatingIpComment(B, 'n') }, A), "another installation's IP");
  assert.ok(!isOwnedFloatingIp({ comment: legacyFloatingIpComment('1', 'n') }, A), 'an earlier release IP is not ours by itself');
  assert.ok(!isOwnedFloatingIp({ comment: floatingIpComment({ poolId: '2', installationId: 'inst-a' }, 'n') }, A));
  assert.ok(!isOwnedFloatingIp({ comment: null }, A));
  assert.equal(markerAgentId(parseMarker(serverComment(A, 42))), 42);
  for (const bad of ['0', '-1', '1.5', 'x', '']) assert.equal(markerAgentId({ pool: '1', agent: bad }), undefined, bad);
});

test('replaceMarker upgrades the marker and keeps an operator note', () => {
  assert.equal(replaceMarker(legacyServerComment('1', 3), serverComment(A, 3)), serverComment(A, 3));
  assert.equal(
    replaceMarker(`kept by ops ${legacyServerComment('1', 3)} until friday`, serverComment(A, 3)),
    `kept by ops ${serverComment(A, 3)} until friday`,
  );
  assert.equal(replaceMarker(null, serverComment(A, 3)), serverComment(A, 3));
  assert.equal(replaceMarker(`${'x'.repeat(250)} ${legacyServerComment('1', 3)}`, serverComment(A, 3)), serverComment(A, 3));
});

test('preset candidates and configuration syntax', () => {
  assert.deepEqual(parsePresetCandidates(['2453', '2453:spb-3', ' 4795 : ams-1 ']), [
    { presetId: 2453 },
    { presetId: 2453, zone: 'spb-3' },
    { presetId: 4795, zone: 'ams-1' },
  ]);
  for (const bad of ['', 'abc', '2453:', '1:2:3', 'cx11:nbg1']) assert.throws(() => parsePresetCandidates([bad]), /PRESET_ID\[:ZONE\]/);
  assert.deepEqual(parseConfiguration('cpu=2, ram=4096 ,disk=51200,configurator=11,gpu=1'), {
    cpu: 2,
    ram: 4096,
    disk: 51200,
    configuratorId: 11,
    gpu: 1,
  });
  assert.throws(() => parseConfiguration('cpu=2,ram=4096'), /lacks disk=/);
  assert.throws(() => parseConfiguration('cpu=2,ram=4096,disk=51200,foo=1'), /unknown key "foo"/);
  assert.throws(() => parseConfiguration('cpu=two,ram=4096,disk=51200'), /cpu must be a whole number/);
  assert.throws(() => parseConfiguration('cpu=2,ram=4096,disk=50'), /disk=50 is in MB: did you mean disk=51200\?/);
});

test('readTimewebOptions applies defaults when the config layer did not', () => {
  const o = readTimewebOptions({ timewebcloudApiToken: 'tok' });
  assert.equal(o.apiUrl, 'https://api.timeweb.cloud');
  assert.equal(o.os, 'ubuntu-24.04');
  assert.equal(o.publicIp, true);
  assert.equal(o.billing, 'hourly');
  assert.equal(o.minCpu, 2);
  assert.equal(o.minRam, 4096);
  assert.deepEqual(o.presets, []);
  assert.deepEqual(o.sshKeys, []);
  assert.throws(() => readTimewebOptions({ timewebcloudApiToken: '  ' }), /required/);
});

test('OS resolution and requirement units', () => {
  const list: TwOs[] = [
    { id: 79, name: 'ubuntu', version: '22.04' },
    { id: 99, name: 'ubuntu', version: '24.04' },
    { id: 93, name: 'debian', version: '12' },
    { id: 5, name: 'freebsd', version: null },
  ];
  assert.equal(resolveOs(list, 'ubuntu-24.04').id, 99);
  assert.equal(resolveOs(list, 'UBUNTU_22.04').id, 79);
  assert.equal(resolveOs(list, 'debian').id, 93);
  assert.equal(resolveOs(list, 'freebsd').id, 5);
  assert.equal(resolveOs(list, '93').id, 93);
  assert.throws(() => resolveOs(list, 'ubuntu'), /ambiguous/);
  assert.equal(normaliseMb(4, 256), 4096);
  assert.equal(normaliseMb(1024, 256), 1024);
  assert.equal(normaliseMb(undefined, 256), 0);
  assert.deepEqual(osRequirements({ id: 1, name: 'w', version: '1', requirements: { cpu_min: 2, ram_min: 4, disk_min: 50 } }), {
    cpu: 2,
    ramMb: 4096,
    diskMb: 51200,
  });
});

test('error classification for create: balance vs unavailable', () => {
  const err = (status: number, errorCode: string, apiMessage: string) =>
    new TimewebApiError({ kind: 'http', status, endpoint: 'POST /api/v1/servers', errorCode, apiMessage });
  assert.ok(isBalanceError(err(400, 'no_balance', 'Insufficient funds')));
  assert.ok(isBalanceError(err(402, 'payment_required', '')));
  assert.ok(isBalanceError(err(403, 'forbidden', 'Недостаточно средств на балансе')));
  assert.ok(!isBalanceError(err(500, 'x', 'balance service down')));
  assert.ok(isUnavailableError(err(409, 'preset_unavailable', 'Preset is temporarily unavailable')));
  assert.ok(isUnavailableError(err(400, 'bad_request', 'No free resources in zone spb-3')));
  assert.ok(isUnavailableError(err(409, 'conflict', 'Тариф недоступен')));
  assert.ok(!isUnavailableError(err(400, 'bad_request', 'name must be a non-empty string')));
  assert.ok(!isUnavailableError(err(503, 'x', 'Service Unavailable')), 'a 5xx is ambiguous, not "unavailable"');
});

test('public IPv4 and hostnames', () => {
  const s = (networks: TwServer['networks'], main_ipv4?: string): TwServer =>
    ({ id: 1, name: 'n', comment: '', created_at: '', status: 'on', cpu: 1, ram: 1, networks, main_ipv4 }) as TwServer;
  assert.equal(publicIpv4(s([{ type: 'public', ips: null }])), undefined);
  assert.equal(
    publicIpv4(
      s([
        { type: 'local', ips: [{ type: 'ipv4', ip: '10.0.0.5', is_main: true }] },
        {
          type: 'public',
          ips: [
            { type: 'ipv6', ip: '2a03::1', is_main: true },
            { type: 'ipv4', ip: '1.2.3.4', is_main: false },
            { type: 'ipv4', ip: '5.6.7.8', is_main: true },
          ],
        },
      ]),
    ),
    '5.6.7.8',
  );
  assert.equal(publicIpv4(s([], '9.9.9.9')), '9.9.9.9');
  assert.equal(sanitiseHostname('CI-pool-1-agent-AbCd'), 'ci-pool-1-agent-abcd');
  assert.equal(sanitiseHostname('pool_x.y--agent'), 'pool-x-y-agent');
  assert.equal(sanitiseHostname('-'.repeat(5)), 'agent');
  assert.equal(sanitiseHostname('a'.repeat(80)).length, 63);
});
