import type { Owner } from './ownership.js';
import type { Clock } from '../../util/clock.js';
import { errorMessage } from '../../util/guards.js';
import { TimewebApiError } from './client.js';
import type { TimewebClient } from './client.js';
import { createImage, deleteImage, getImage, imageOsOf, listImages, listServerDisks } from './images-api.js';
import type { TwImage } from './images-api.js';
import { builderComment, builderName, imageDescription, imageName, isOwnBuilder, isOwnBuilderMarker, ourImageHash } from './image-recipe.js';
import type { ImageRecipe } from './image-recipe.js';
import type { TimewebSettings } from './resolve.js';
import type { TwCreateServerRequest, TwFloatingIp, TwServer } from './types.js';

/**
 * `timeweb image build`, as a function of an injected client and clock:
 * 1. an image of ours with the recipe's hash in the pool's location is reused (one still `new` is waited for; a
 *    `failed` one is left alone: nothing in an image proves which installation made it);
 * 2. builders this pool left behind (a crash) are deleted with their IPs — unless younger than a whole build, then
 *    another build is running and this one stops;
 * 3. a builder server is created from the OS with the recipe's user-data; it installs, seals and powers itself off;
 * 4. once it is `off`, an image is created from its system disk and waited for until `created`;
 * 5. the builder and its IP are deleted — always, also after a failure, a timeout or Ctrl-C.
 */

export interface ImageBuildOptions {
  client: TimewebClient;
  clock: Clock;
  /** Resolved provider settings: the OS (not an image), the first candidate's size and zone, keys, project. */
  settings: TimewebSettings;
  recipe: ImageRecipe;
  /** Whose builders these are: only builders and IPs with this installation's and pool's marker are ever deleted. */
  owner: Owner;
  /** From the create request until the builder is off. */
  installTimeoutMs: number;
  /** From the image request until the image is `created`. */
  imageTimeoutMs: number;
  pollMs: number;
  /** Progress lines for a human. */
  log: (msg: string) => void;
  signal?: AbortSignal;
}

export interface ImageBuildResult {
  image: TwImage;
  reused: boolean;
  /** What the clean-up could not delete (empty when all went well). */
  left: string[];
  /** Builder created → off, and image requested → created (ms); absent when reused. */
  timings?: { installMs: number; imageMs: number };
}

/** Waiting for a deleted builder's floating IP to become deletable. */
const IP_CLEANUP_MS = 3 * 60_000;
const FAILED_STATUSES = new Set(['no_paid', 'blocked', 'permanent_blocked']);

/** ISO time; a time without a zone is UTC (Timeweb's image times have none). NaN when it does not parse. */
function parseUtc(iso: string): number {
  const raw = iso.trim();
  return Date.parse(/([zZ]|[+-]\d{2}:?\d{2})$/.test(raw) ? raw : `${raw}Z`);
}

export class ImageBuildError extends Error {
  override name = 'ImageBuildError';
  /** What the clean-up could not delete. */
  left: string[] = [];
}

export async function buildImage(o: ImageBuildOptions): Promise<ImageBuildResult> {
  const { client, clock, recipe, log, signal } = o;
  const candidate = o.settings.candidates[0];
  if (!candidate) throw new ImageBuildError('no server size (preset or configuration) to build the image on');
  if (!o.settings.os) throw new ImageBuildError('an image is built from an OS: unset --timewebcloud-image-id for the build');
  const location = candidate.location;
  const name = imageName(recipe.hash);

  // 1. reuse
  const existing = (await listImages(client, signal)).filter((i) => ourImageHash(i) === recipe.hash && i.location === location);
  for (const img of existing.filter((i) => i.status === 'failed')) {
    // Nothing in an image says which installation made it: an earlier failed one is left alone, never deleted.
    log(`image ${img.name} (${img.id}) of an earlier build has failed: building a new one (delete the failed one in the panel)`);
  }
  const ready = existing.find((i) => i.status === 'created');
  if (ready) return { image: ready, reused: true, left: [] };
  const pending = existing.find((i) => i.status === 'new');
  if (pending) {
    log(`image ${pending.name} (${pending.id}) of an earlier build is still being created: waiting for it`);
    return { image: await waitImage(o, pending.id, clock.now()), reused: true, left: [] };
  }

  // 2. leftovers
  const left = await removeLeftovers(o);

  // 3. builder
  const started = clock.now();
  const body: TwCreateServerRequest = {
    name: builderName(recipe.hash),
    comment: builderComment(o.owner, recipe.hash),
    hostname: builderName(recipe.hash),
    os_id: recipe.osId,
    bandwidth: candidate.bandwidth,
    cloud_init: recipe.userData,
    network: { floating_ip: 'create_ip' },
  };
  if (candidate.preset) body.preset_id = candidate.preset.id;
  else if (candidate.configuration) body.configuration = { ...candidate.configuration };
  if (candidate.zone !== undefined) body.availability_zone = candidate.zone;
  if (o.settings.sshKeyIds.length > 0) body.ssh_keys_ids = [...o.settings.sshKeyIds];
  if (o.settings.projectId !== undefined) body.project_id = o.settings.projectId;

  let builder: TwServer | undefined;
  let failure: unknown;
  let result: ImageBuildResult | undefined;
  try {
    log(`creating the builder ${body.name} (${recipe.osLabel}, ${candidate.description})`);
    builder = await createBuilder(o, body);
    log(`builder ${builder.name} (id ${builder.id}) created: installing Docker and pulling ${recipe.agentImage}`);
    await waitOff(o, builder.id, started);
    const installMs = clock.now() - started;
    log(`builder is off after ${Math.round(installMs / 1000)} s: creating the image from its system disk`);

    // 4. image
    const disks = await listServerDisks(client, builder.id, signal);
    const disk = disks.find((d) => d.is_system === true) ?? disks[0];
    if (!disk) throw new ImageBuildError(`the builder (id ${builder.id}) has no disk to make an image of`);
    const asked = clock.now();
    const img = await createImageOnce(o, {
      name,
      description: imageDescription(recipe),
      disk_id: disk.id,
      location,
      os: imageOsOf(o.settings.os.name),
    });
    log(`image ${img.name} (${img.id}) requested: waiting until it is ready`);
    let image: TwImage;
    try {
      image = await waitImage(o, img.id, asked);
    } catch (err) {
      // An unfinished image would make the next build wait for it: delete it (it is ours: we just made it).
      await deleteImage(client, img.id).catch(() => undefined);
      throw err;
    }
    result = { image, reused: false, left, timings: { installMs, imageMs: clock.now() - asked } };
  } catch (err) {
    failure = err;
  }

  // 5. clean-up, whatever happened (without the caller's signal: Ctrl-C must not stop the clean-up)
  if (builder) {
    log(`deleting the builder ${builder.name} (id ${builder.id}) and its public IP`);
    left.push(...(await removeBuilder(o, builder.id)));
  }
  if (failure !== undefined) {
    const e = failure instanceof ImageBuildError ? failure : new ImageBuildError(errorMessage(failure), { cause: failure });
    e.left = left;
    throw e;
  }
  if (!result) throw new ImageBuildError('the build ended without an image');
  return result;
}

async function createBuilder(o: ImageBuildOptions, body: TwCreateServerRequest): Promise<TwServer> {
  try {
    return await o.client.createServer(body, o.signal);
  } catch (err) {
    if (!(err instanceof TimewebApiError) || !err.ambiguous) throw err;
    // The create may have happened: look before doing anything else (never create again blindly).
    const found = (await o.client.listServers()).find((s) => s.name === body.name && isOwnBuilder(s, o.owner));
    if (found) return found;
    throw err;
  }
}

async function createImageOnce(o: ImageBuildOptions, req: Parameters<typeof createImage>[1]): Promise<TwImage> {
  try {
    return await createImage(o.client, req, o.signal);
  } catch (err) {
    if (!(err instanceof TimewebApiError) || !err.ambiguous) throw err;
    const found = (await listImages(o.client)).find((i) => i.name === req.name && i.disk_id === req.disk_id && i.status !== 'failed');
    if (found) return found;
    throw err;
  }
}

/** Polls the builder until it has powered itself off; marks its IP on the way. */
async function waitOff(o: ImageBuildOptions, id: number, started: number): Promise<void> {
  const deadline = started + o.installTimeoutMs;
  let ipMarked = false;
  let last = '';
  for (;;) {
    const s = await o.client.getServer(id, o.signal);
    if (!s) throw new ImageBuildError(`the builder (id ${id}) disappeared while installing`);
    if (s.status !== last) {
      if (last !== '') o.log(`builder status: ${s.status}`);
      last = s.status;
    }
    if (!ipMarked) ipMarked = await markIps(o, s);
    if (s.status === 'off') return;
    if (FAILED_STATUSES.has(s.status)) {
      throw new ImageBuildError(`the builder (id ${id}) is "${s.status}": check the account balance and status`);
    }
    if (o.clock.now() >= deadline) {
      throw new ImageBuildError(
        `the builder did not power itself off within ${Math.round(o.installTimeoutMs / 60_000)} min (status "${s.status}"): ` +
          'the install failed or is slow (Docker, the agent image pull); see the server console in the Timeweb panel, ' +
          'or give more time with --timeout',
      );
    }
    await o.clock.sleep(o.pollMs, o.signal);
  }
}

/** Puts the builder marker on the builder's floating IPs so that a leftover can be found; true once done. */
async function markIps(o: ImageBuildOptions, s: TwServer): Promise<boolean> {
  const ids = new Set<string>();
  for (const n of s.networks ?? []) for (const x of n.ips ?? []) if (typeof x.id === 'string') ids.add(x.id);
  try {
    const ips = (await o.client.listFloatingIps(o.signal)).filter(
      (ip) => (ip.resource_id === s.id && ip.resource_type === 'server') || ids.has(ip.id),
    );
    if (ips.length === 0) return false;
    const comment = builderComment(o.owner, o.recipe.hash);
    for (const ip of ips) if (ip.comment !== comment) await o.client.updateFloatingIpComment(ip.id, comment, o.signal);
    return true;
  } catch (err) {
    if (o.signal?.aborted) throw err;
    return false; // best effort: the IP is deleted with the builder anyway
  }
}

async function waitImage(o: ImageBuildOptions, id: string, since: number): Promise<TwImage> {
  const deadline = since + o.imageTimeoutMs;
  for (;;) {
    const img = await getImage(o.client, id, o.signal);
    if (!img) throw new ImageBuildError(`image ${id} disappeared while being created`);
    if (img.status === 'created') return img;
    if (img.status === 'failed' || img.status === 'deleted') {
      throw new ImageBuildError(`Timeweb could not create image ${img.name} (${id}): status "${img.status}"`);
    }
    if (o.clock.now() >= deadline) {
      const progress = img.progress !== null ? `, ${img.progress}%` : '';
      throw new ImageBuildError(
        `image ${img.name} (${id}) was not ready within ${Math.round(o.imageTimeoutMs / 60_000)} min ` +
          `(status "${img.status}"${progress}); it was deleted. Try again, or give more time with --image-timeout`,
      );
    }
    await o.clock.sleep(o.pollMs, o.signal);
  }
}

/** Builders of this pool left by a crash, older than a whole build, and their IPs. A younger one stops the build. */
async function removeLeftovers(o: ImageBuildOptions): Promise<string[]> {
  const left: string[] = [];
  const staleMs = o.installTimeoutMs + o.imageTimeoutMs + 10 * 60_000;
  const builders = (await o.client.listServers(o.signal)).filter((s) => isOwnBuilder(s, o.owner));
  for (const s of builders) {
    const age = o.clock.now() - parseUtc(s.created_at);
    if (!(age >= staleMs)) {
      throw new ImageBuildError(
        `another image build seems to be running: builder ${s.name} (id ${s.id}) was created ` +
          `${Math.max(0, Math.round(age / 60_000))} min ago. Wait for it, or delete that server if its build crashed`,
      );
    }
    o.log(`deleting ${s.name} (id ${s.id}), left by an earlier build`);
    left.push(...(await removeBuilder(o, s.id)));
  }
  const ips = (await o.client.listFloatingIps(o.signal)).filter(
    (ip) => ip.resource_id === null && isOwnBuilderMarker(ip.comment, o.owner),
  );
  for (const ip of ips) {
    o.log(`deleting the floating IP ${ip.ip ?? ip.id}, left by an earlier build`);
    await o.client.deleteFloatingIp(ip.id, o.signal);
  }
  return left;
}

/** Deletes a builder server and its floating IPs (which outlive it). Returns what is still there. */
async function removeBuilder(o: ImageBuildOptions, id: number): Promise<string[]> {
  const { client, clock } = o;
  const left: string[] = [];
  try {
    const s = await client.getServer(id);
    if (!s) return left;
    if (!isOwnBuilder(s, o.owner)) return [`server ${s.name} (id ${id}): no longer carries the builder marker, left alone`];
    const ipIds = new Set<string>();
    for (const n of s.networks ?? []) for (const x of n.ips ?? []) if (typeof x.id === 'string') ipIds.add(x.id);
    for (const ip of await client.listFloatingIps()) if (ip.resource_id === id && ip.resource_type === 'server') ipIds.add(ip.id);
    const r = await client.deleteServer(id);
    if (r.kind === 'confirmation-required') {
      return [
        `server ${s.name} (id ${id}): Timeweb asks for a deletion confirmation; give the API token delete permission ` +
          'and turn the Telegram/SMS confirmation off, then delete the server in the panel',
      ];
    }
    let pending = [...ipIds];
    const deadline = clock.now() + IP_CLEANUP_MS;
    let lastError = '';
    while (pending.length > 0) {
      const now: TwFloatingIp[] = await client.listFloatingIps();
      const next: string[] = [];
      for (const ipId of pending) {
        const cur = now.find((x) => x.id === ipId);
        if (!cur) continue;
        if (cur.resource_id !== null && cur.resource_id !== id) continue; // moved on to something else: not ours
        try {
          await client.deleteFloatingIp(ipId);
        } catch (err) {
          lastError = errorMessage(err);
          next.push(ipId);
        }
      }
      pending = next;
      if (pending.length === 0) break;
      if (clock.now() >= deadline) {
        left.push(...pending.map((x) => `floating IP ${x}: ${lastError}`));
        break;
      }
      await clock.sleep(o.pollMs);
    }
  } catch (err) {
    left.push(`builder (id ${id}): ${errorMessage(err)}`);
  }
  return left;
}
