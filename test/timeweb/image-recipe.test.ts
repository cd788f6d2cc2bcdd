import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  builderComment,
  builderName,
  imageDescription,
  imageName,
  installKeys,
  isOwnBuilder,
  makeRecipe,
  ourImageHash,
  parseBuilderMarker,
} from '../../src/providers/timeweb/image-recipe.js';
import { isOwnedServer, parseMarker } from '../../src/providers/timeweb/ownership.js';
import { resolveImage } from '../../src/providers/timeweb/image-resolve.js';
import type { TwImage } from '../../src/providers/timeweb/images-api.js';
import { imageOsOf } from '../../src/providers/timeweb/images-api.js';

const base = { osId: 99, osLabel: 'ubuntu-24.04', agentImage: 'woodpeckerci/woodpecker-agent:v3', template: '' };

describe('image recipe', () => {
  it('is deterministic and its hash changes with the OS, the agent image, the install script and the template', () => {
    const a = makeRecipe(base);
    assert.equal(makeRecipe(base).userData, a.userData);
    assert.equal(makeRecipe(base).hash, a.hash);
    assert.match(a.hash, /^[0-9a-f]{12}$/);
    const variants = [
      { ...base, osId: 79, osLabel: 'ubuntu-22.04' },
      { ...base, agentImage: 'woodpeckerci/woodpecker-agent:v3.1' },
      { ...base, installScript: 'apt-get install -y jq' },
      { ...base, template: '#cloud-config\npackages:\n  - docker.io\nruncmd:\n  - docker run {{ .Image }}\n' },
    ];
    const hashes = new Set([a.hash, ...variants.map((v) => makeRecipe(v).hash)]);
    assert.equal(hashes.size, variants.length + 1);
  });

  it("the builder's user-data: the template's installs, the pull, the clone drop-in, the seal and the power-off", () => {
    const r = makeRecipe({ ...base, agentImage: "registry.example.com/it's:v1", installScript: 'echo extra' });
    assert.ok(r.userData.startsWith('#cloud-config\n'));
    const doc = parse(r.userData, { version: '1.1' }) as Record<string, unknown>;
    assert.deepEqual(doc.packages, ['docker-ce', 'docker-compose-plugin', 'binfmt-support', 'qemu-user-static']);
    assert.equal(doc.package_update, true);
    assert.ok(doc.apt, 'the Docker apt source of the agent template');
    assert.equal((doc as { write_files: unknown[] }).write_files.length, 1, 'no agent compose file on the builder');
    const runcmd = doc.runcmd as string[][];
    assert.deepEqual(runcmd[0]?.slice(0, 2), ['sh', '-c']);
    assert.equal(runcmd[0]?.[3], "registry.example.com/it's:v1", 'the image is an argument, never shell text');
    assert.deepEqual(runcmd[1], ['sh', '-c', 'echo extra']);
    assert.deepEqual(runcmd[2], ['systemd-run', '--no-block', '--unit=twcloud-scaler-seal', '/bin/sh', '/usr/local/sbin/twcloud-scaler-seal']);
    const seal = (doc.write_files as { content: string }[])[0]?.content ?? '';
    for (const step of [
      'cloud-init status --wait',
      `docker image inspect 'registry.example.com/it'\\''s:v1'`,
      '/etc/cloud/cloud.cfg.d/90-twcloud-scaler-baked.cfg',
      "skip = {'apt_configure', 'apt_pipelining', 'package_update_upgrade_install'}",
      'cloud-init clean --logs --seed',
      'truncate -s 0 /etc/machine-id',
      '/etc/ssh/ssh_host_*',
      'journalctl --vacuum-time=1s',
      'systemctl poweroff',
    ]) {
      assert.ok(seal.includes(step), step);
    }
    assert.ok(seal.indexOf('cloud-init clean') < seal.indexOf('systemctl poweroff'));
  });

  it('the seal script is valid sh, and its drop-in writer valid Python that drops exactly the apt/package modules', (t) => {
    const doc = parse(makeRecipe(base).userData, { version: '1.1' }) as { write_files: { content: string }[] };
    const seal = doc.write_files[0]?.content ?? '';
    const sh = spawnSync('sh', ['-n'], { input: seal, encoding: 'utf8' });
    assert.equal(sh.status, 0, sh.stderr);
    const py = /python3 - <<'PY'\n([\s\S]*?)PY\n/.exec(seal)?.[1] ?? '';
    if (spawnSync('python3', ['-c', 'import yaml']).status !== 0) {
      t.skip('python3 with PyYAML not installed');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'twcloud-dropin-'));
    const cfg = join(dir, 'cloud.cfg');
    const out = join(dir, 'out.cfg');
    writeFileSync(
      cfg,
      'cloud_init_modules: [seed_random, growpart]\n' +
        'cloud_config_modules: [apt-configure, [apt_pipelining, once], locale, runcmd]\n' +
        'cloud_final_modules: [package-update-upgrade-install, scripts-user, [power_state_change, always]]\n',
    );
    const script = py.replace('/etc/cloud/cloud.cfg.d/90-twcloud-scaler-baked.cfg', out).replace('/etc/cloud/cloud.cfg', cfg);
    const r = spawnSync('python3', ['-'], { input: script, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const written = parse(readFileSync(out, 'utf8')) as Record<string, unknown>;
    assert.deepEqual(written, {
      cloud_init_modules: ['seed_random', 'growpart'],
      cloud_config_modules: ['locale', 'runcmd'],
      cloud_final_modules: ['scripts-user', ['power_state_change', 'always']],
    });
  });

  it('takes the install keys from a custom template; a non-cloud-config template installs nothing extra', () => {
    const custom = '#cloud-config\npackages:\n  - docker.io\n  - jq\nruncmd:\n  - docker run -d {{ .Image }}\n';
    assert.deepEqual(installKeys(custom, 'img'), { packages: ['docker.io', 'jq'] });
    assert.deepEqual(installKeys('#!/bin/sh\ndocker run {{ .Image }}\n', 'img'), {});
  });
});

/** This installation's owner of pool `poolId`. */
const own = (poolId: string): { poolId: string; installationId: string } => ({ poolId, installationId: 'inst-a' });

describe('builder and image markers', () => {
  const hash = '0123456789ab';
  const cases: { name: string; server: { name: string; comment: string | null }; pool: string; ours: boolean }[] = [
    { name: 'name and marker', server: { name: builderName(hash), comment: builderComment(own('1'), hash) }, pool: '1', ours: true },
    {
      name: 'marker after an operator note',
      server: { name: builderName(hash), comment: `keep until Friday ${builderComment(own('1'), hash)}` },
      pool: '1',
      ours: true,
    },
    { name: 'another pool', server: { name: builderName(hash), comment: builderComment(own('2'), hash) }, pool: '1', ours: false },
    { name: 'no marker', server: { name: builderName(hash), comment: '' }, pool: '1', ours: false },
    { name: 'null comment', server: { name: builderName(hash), comment: null }, pool: '1', ours: false },
    { name: 'hash mismatch', server: { name: builderName(hash), comment: builderComment(own('1'), 'ba9876543210') }, pool: '1', ours: false },
    { name: 'marker glued to a word', server: { name: builderName(hash), comment: `x${builderComment(own('1'), hash)}` }, pool: '1', ours: false },
    { name: 'name with a suffix', server: { name: `${builderName(hash)}-2`, comment: builderComment(own('1'), hash) }, pool: '1', ours: false },
    {
      name: 'another installation, same pool id',
      server: { name: builderName(hash), comment: builderComment({ poolId: '1', installationId: 'inst-b' }, hash) },
      pool: '1',
      ours: false,
    },
    {
      name: 'the earlier builder marker without an installation',
      server: { name: builderName(hash), comment: `twcloud-scaler-builder:pool=1;recipe=${hash}` },
      pool: '1',
      ours: false,
    },
    {
      name: 'pool id with ; and =',
      server: { name: builderName(hash), comment: builderComment(own('a;b=c'), hash) },
      pool: 'a;b=c',
      ours: true,
    },
  ];
  for (const c of cases) {
    it(`builder: ${c.name} → ${c.ours ? 'ours' : 'not ours'}`, () => {
      assert.equal(isOwnBuilder(c.server, own(c.pool)), c.ours);
    });
  }

  it('a builder is never a pool server: the pool marker parser ignores its marker, the name is outside the pattern', () => {
    const s = { name: builderName(hash), comment: builderComment(own('1'), hash) };
    assert.equal(parseMarker(s.comment), undefined);
    assert.equal(isOwnedServer(s, { poolId: '1', installationId: 'inst-a' }), false);
    assert.deepEqual(parseBuilderMarker(s.comment), { inst: 'inst-a', pool: '1', recipe: hash });
  });

  it('an image is ours only when the name and the description marker carry the same hash', () => {
    const r = makeRecipe(base);
    const img = { name: imageName(r.hash), description: imageDescription(r) };
    assert.equal(ourImageHash(img), r.hash);
    assert.equal(ourImageHash({ ...img, description: 'my golden image' }), undefined);
    assert.equal(ourImageHash({ ...img, name: 'twcloud-scaler-agent-custom' }), undefined);
    assert.equal(ourImageHash({ ...img, name: imageName('ba9876543210') }), undefined);
    assert.ok(imageDescription(r).length <= 255);
  });

  it('maps the OS name to the image os enum', () => {
    assert.equal(imageOsOf('ubuntu'), 'ubuntu');
    assert.equal(imageOsOf('Debian'), 'debian');
    assert.equal(imageOsOf('freebsd'), 'other');
    assert.equal(imageOsOf(undefined), 'other');
  });
});

describe('--timewebcloud-image-id resolution', () => {
  const img = (over: Partial<TwImage>): TwImage => ({
    id: '00000000-0000-4000-a000-000000000001',
    status: 'created',
    created_at: '2025-01-01T00:00:00Z',
    name: 'agent',
    description: '',
    disk_id: null,
    location: 'ru-1',
    os: 'ubuntu',
    progress: 100,
    ...over,
  });
  const list = [
    img({}),
    img({ id: '00000000-0000-4000-a000-000000000002', created_at: '2025-02-01T00:00:00Z', location: 'nl-1' }),
    img({ id: '00000000-0000-4000-a000-000000000003', created_at: '2025-03-01T00:00:00Z', status: 'failed' }),
    img({ id: '00000000-0000-4000-a000-000000000004', name: 'gone', status: 'deleted' }),
  ];
  it('by id (any case), by name (the pool location first, else the newest ready one)', () => {
    assert.equal(resolveImage(list, '00000000-0000-4000-A000-000000000002').location, 'nl-1');
    assert.equal(resolveImage(list, 'agent', 'ru-1').id, '00000000-0000-4000-a000-000000000001');
    assert.equal(resolveImage(list, 'agent').id, '00000000-0000-4000-a000-000000000002');
  });
  it('a deleted, failed or unknown image is a configuration error naming the flag', () => {
    assert.throws(() => resolveImage(list, 'gone'), /--timewebcloud-image-id \(WOODPECKER_TIMEWEBCLOUD_IMAGE_ID\): image gone not found/);
    assert.throws(() => resolveImage(list, '00000000-0000-4000-a000-000000000003'), /is not ready to boot servers \(status "failed"\)/);
    assert.throws(() => resolveImage([], 'x'), /the account has no images/);
  });
});
