import type { Owner } from './ownership.js';
import { createHash } from 'node:crypto';
import { parse, stringify } from 'yaml';
import { buildAgentEnvironment, renderUserData } from '../../cloudinit/render.js';
import { isRecord } from '../../util/guards.js';
import type { TwImage } from './images-api.js';

/**
 * The recipe of a baked agent image and the names and markers of what `timeweb image build` creates.
 *
 * - Recipe = the OS, the agent image and the builder's user-data (which holds the install steps). Its content hash
 *   (12 hex digits) is in the image's name `twcloud-scaler-agent-<hash>`: an image with the same hash is reused.
 * - The builder server is `twcloud-scaler-builder-<hash>` with the comment marker
 *   `twcloud-scaler-builder:inst=<installation id>;pool=<pool id>;recipe=<hash>` (only this installation's builders
 *   are ever deleted, even when another installation shares the account and the pool id). The prefix differs from the pool marker's
 *   (`twcloud-scaler:`) and the name is outside the pool pattern, so a builder is never counted as a pool agent.
 * - The image's description carries `twcloud-scaler-image:recipe=<hash>`; an image is ours only with both.
 *
 * The builder installs what the agent template installs (its `apt`, `packages`, `groups`… keys), pulls the agent
 * image, writes a cloud-init drop-in that turns off the apt and package modules on the clones (the image already has
 * everything, so the unchanged agent template skips the installs), then seals the machine — `cloud-init clean --logs
 * --seed`, empty /etc/machine-id, no SSH host keys, no logs — and powers itself off.
 */

export const BUILDER_NAME_PREFIX = 'twcloud-scaler-builder-';
export const IMAGE_NAME_PREFIX = 'twcloud-scaler-agent-';
const BUILDER_MARKER = 'twcloud-scaler-builder:';
const IMAGE_MARKER = 'twcloud-scaler-image:';
const HASH = /^[0-9a-f]{12}$/;

export interface ImageRecipe {
  osId: number;
  /** `ubuntu-24.04` */
  osLabel: string;
  agentImage: string;
  userData: string;
  /** 12 hex digits of sha256 over the three above. */
  hash: string;
}

export function builderName(hash: string): string {
  return `${BUILDER_NAME_PREFIX}${hash}`;
}

export function imageName(hash: string): string {
  return `${IMAGE_NAME_PREFIX}${hash}`;
}

/** The builder server's comment (and its floating IP's). */
export function builderComment(owner: Owner, hash: string): string {
  return `${BUILDER_MARKER}inst=${encodeURIComponent(owner.installationId)};pool=${encodeURIComponent(owner.poolId)};recipe=${hash}`;
}

/** `{inst, pool, recipe}` from a builder marker standing as a word of its own; undefined without one. */
export function parseBuilderMarker(
  comment: string | null | undefined,
): { inst: string; pool: string; recipe: string } | undefined {
  if (typeof comment !== 'string') return undefined;
  const m = /(?:^|\s)twcloud-scaler-builder:inst=([^;\s]*);pool=([^;\s]*);recipe=([0-9a-f]{12})(?:\s|$)/.exec(comment);
  if (!m) return undefined;
  try {
    return { inst: decodeURIComponent(m[1] ?? ''), pool: decodeURIComponent(m[2] ?? ''), recipe: m[3] ?? '' };
  } catch {
    return undefined;
  }
}

/** A builder marker of this installation's pool. */
export function isOwnBuilderMarker(comment: string | null | undefined, owner: Owner): boolean {
  const m = parseBuilderMarker(comment);
  return m !== undefined && m.inst === owner.installationId && m.pool === owner.poolId;
}

/**
 * A builder of this installation's pool: name `twcloud-scaler-builder-<hash>` AND the marker with this installation,
 * this pool and the same hash.
 */
export function isOwnBuilder(server: { name: string; comment: string | null | undefined }, owner: Owner): boolean {
  const hash = server.name.startsWith(BUILDER_NAME_PREFIX) ? server.name.slice(BUILDER_NAME_PREFIX.length) : '';
  if (!HASH.test(hash)) return false;
  return isOwnBuilderMarker(server.comment, owner) && parseBuilderMarker(server.comment)?.recipe === hash;
}

export function imageDescription(r: ImageRecipe): string {
  const text = `${IMAGE_MARKER}recipe=${r.hash} Woodpecker agent image: ${r.osLabel}, Docker, ${r.agentImage}`;
  return text.length > 255 ? text.slice(0, 255) : text;
}

/** The recipe hash of one of our images (name AND description marker agree); undefined for any other image. */
export function ourImageHash(img: Pick<TwImage, 'name' | 'description'>): string | undefined {
  const hash = img.name.startsWith(IMAGE_NAME_PREFIX) ? img.name.slice(IMAGE_NAME_PREFIX.length) : '';
  if (!HASH.test(hash)) return undefined;
  return new RegExp(`(?:^|\\s)${IMAGE_MARKER}recipe=${hash}(?:\\s|$)`).test(img.description) ? hash : undefined;
}

// ---- the builder's user-data ----

/** The cloud-config keys of the agent template that install software, copied into the builder's user-data. */
const INSTALL_KEYS = [
  'package_reboot_if_required',
  'package_update',
  'package_upgrade',
  'groups',
  'system_info',
  'apt',
  'packages',
  'snap',
] as const;

const DROP_IN = '/etc/cloud/cloud.cfg.d/90-twcloud-scaler-baked.cfg';
const SEAL = '/usr/local/sbin/twcloud-scaler-seal';

function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Writes the drop-in that turns off cloud-init's apt and package modules (read from this OS's own cloud.cfg). */
const DROP_IN_SCRIPT = `import yaml
cfg = yaml.safe_load(open('/etc/cloud/cloud.cfg')) or {}
skip = {'apt_configure', 'apt_pipelining', 'package_update_upgrade_install'}
out = {}
for key in ('cloud_init_modules', 'cloud_config_modules', 'cloud_final_modules'):
    mods = cfg.get(key)
    if not isinstance(mods, list):
        continue
    keep = []
    for m in mods:
        name = m[0] if isinstance(m, list) and m else m
        if str(name).replace('-', '_') not in skip:
            keep.append(m)
    out[key] = keep
with open('${DROP_IN}', 'w') as f:
    f.write('# twcloud-scaler image build: Docker and the agent image are baked in; no apt or package installs at boot\\n')
    yaml.safe_dump(out, f)
`;

function sealScript(agentImage: string): string {
  return `#!/bin/sh
# twcloud-scaler image build: seal this machine so that its clones boot fresh, then power off.
# Runs after cloud-init has finished; does nothing (and the machine stays on) when the agent image is missing.
set -u
cloud-init status --wait >/dev/null 2>&1 || true
if ! docker image inspect ${shQuote(agentImage)} >/dev/null 2>&1; then
  echo 'twcloud-scaler-seal: the agent image is not there: not sealing' >&2
  exit 1
fi
python3 - <<'PY'
${DROP_IN_SCRIPT}PY
apt-get clean || true
rm -f /var/lib/docker/engine-id
cloud-init clean --logs --seed
truncate -s 0 /etc/machine-id
rm -f /var/lib/dbus/machine-id /etc/ssh/ssh_host_* /root/.bash_history
journalctl --rotate >/dev/null 2>&1 || true
journalctl --vacuum-time=1s >/dev/null 2>&1 || true
find /var/log -type f \\( -name '*.gz' -o -name '*.[0-9]' \\) -delete
find /var/log -type f -exec truncate -s 0 {} +
sync
systemctl poweroff
`;
}

/** The install keys of the agent template (rendered with harmless sample values), or `{}` when it is no cloud-config. */
export function installKeys(template: string, agentImage: string): Record<string, unknown> {
  const text = renderUserData({
    template,
    image: agentImage,
    environment: buildAgentEnvironment({
      grpcAddr: 'builder.invalid:9000',
      agentToken: 'builder',
      workflowsPerAgent: 1,
      grpcSecure: false,
      agentEnv: {},
      agentLabels: {},
    }),
    preExec: [],
    postExec: [],
  });
  if (!text.startsWith('#cloud-config')) return {};
  const doc: unknown = parse(text, { version: '1.1', uniqueKeys: false });
  if (!isRecord(doc)) return {};
  const out: Record<string, unknown> = {};
  for (const k of INSTALL_KEYS) if (doc[k] !== undefined) out[k] = doc[k];
  return out;
}

export interface RecipeInput {
  osId: number;
  osLabel: string;
  agentImage: string;
  /** The agent cloud-init template (`--cloudinit-template`; '' = the built-in one). */
  template: string;
  /** Extra shell commands run on the builder after the pull (`--install-script`). */
  installScript?: string;
}

/** The builder's user-data and the recipe hash. Deterministic: same input → same text → same hash. */
export function makeRecipe(input: RecipeInput): ImageRecipe {
  const pull = 'for i in 1 2 3 4 5; do docker pull "$0" && exit 0; sleep 15; done; exit 1';
  const runcmd: unknown[] = [['sh', '-c', pull, input.agentImage]];
  if (input.installScript !== undefined && input.installScript.trim() !== '') runcmd.push(['sh', '-c', input.installScript]);
  runcmd.push(['systemd-run', '--no-block', '--unit=twcloud-scaler-seal', '/bin/sh', SEAL]);
  const config = {
    ...installKeys(input.template, input.agentImage),
    write_files: [{ path: SEAL, permissions: '0755', content: sealScript(input.agentImage) }],
    runcmd,
  };
  const userData = `#cloud-config\n${stringify(config, { version: '1.1', lineWidth: 0 })}`;
  const hash = createHash('sha256')
    .update(JSON.stringify({ v: 1, os: input.osId, agentImage: input.agentImage, userData }))
    .digest('hex')
    .slice(0, 12);
  return { osId: input.osId, osLabel: input.osLabel, agentImage: input.agentImage, userData, hash };
}
