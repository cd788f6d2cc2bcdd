import type { Context, Hono } from 'hono';
import { IMAGE_OS_VALUES } from '../providers/timeweb/images-api.js';
import type { TimewebImageEndpoint, TwImage } from '../providers/timeweb/images-api.js';
import type { TwServerStatus } from '../providers/timeweb/types.js';

/**
 * The fake Timeweb's images, server disks and guest power-off (registered by `createFakeTimeweb`), shaped like the
 * OpenAPI document (tag "Images", `getServerDisks`):
 * - `POST /api/v1/images` → 201 `{image}` with `status: "new"`, `progress` 0; after the image delay (virtual time)
 *   `created` (100 %) — or `failed`, or never (`stuck`) when told. `location` and `os` (the spec's enum) are required,
 *   and exactly one of `disk_id` / `upload_url`. Not kinder than the real API: a disk of a server that is not `off`
 *   answers 409, the image must be made in its server's location (400), and deleting the server while its image is
 *   `new` fails the image.
 * - `GET /api/v1/images` pages with `limit`/`offset` and `meta.total`; `GET`/`DELETE /api/v1/images/{id}` (204),
 *   404 `not_found` for an unknown id.
 * - A server can boot from an image only once the image is `created`, in the image's location.
 * - `GET /api/v1/servers/{id}/disks` → `{server_disks, meta}`.
 * - The guest powering itself off (`systemctl poweroff` at the end of its user-data): `on` → `turning_off` → `off`,
 *   a configurable time after boot.
 */

/** A seeded image (catalog); the fields left out get plausible values (`created`, `ru-1`). */
export interface FakeImageSeed {
  id: string;
  name: string;
  status?: TwImage['status'];
  location?: string;
  description?: string;
  /** A `new` seed becomes `created` this long after the fake starts; default never. */
  readyAfterMs?: number;
}

export type FakeImageOutcome = 'created' | 'failed' | 'stuck';

/** The parts of the fake's server record this module reads and writes. */
export interface FakeImagesServer {
  id: number;
  status: TwServerStatus;
  startAt: number | null;
  location: string;
  /** MB */
  disk: number;
  cloudInit: string | null;
}

export interface FakeImagesContext {
  now: () => number;
  uuid: () => string;
  servers: () => Iterable<FakeImagesServer>;
  server: (id: number) => FakeImagesServer | undefined;
  locations: () => string[];
  jsonResponse: (status: number, body: unknown) => Response;
  apiError: (status: number, errorCode: string, message: string | string[]) => Response;
  objectBody: (c: Context) => Promise<Record<string, unknown> | Response>;
}

export interface FakeImagesOptions {
  /** From `POST /api/v1/images` to `created`. Default 5 min. */
  imageDelayMs?: number;
  /** Default `created`. */
  imageOutcome?: FakeImageOutcome;
  /**
   * When the guest powers itself off, in ms after the server is `on`; undefined = never. Default: 4 min for a
   * server whose user-data runs `systemctl poweroff`, never for the others.
   */
  guestPowerOffMs?: (server: FakeImagesServer) => number | undefined;
  /** How long `turning_off` lasts. Default 10 s. */
  turningOffMs?: number;
}

export interface FakeImages {
  tick(): void;
  /** Why a server cannot boot from this image in this location, or the image. */
  bootImage(id: unknown, location: string | undefined): { image?: { id: string; name: string }; error?: string };
  /** Copies of every image (deleted ones included). */
  list(): TwImage[];
  setImageOutcome(o: FakeImageOutcome): void;
  setImageDelay(ms: number): void;
  setGuestPowerOff(fn: (server: FakeImagesServer) => number | undefined): void;
}

/** Routes for the fake's request log and fault injection. */
export const IMAGE_ROUTES: { method: string; re: RegExp; route: TimewebImageEndpoint }[] = [
  { method: 'GET', re: /^\/api\/v1\/images$/, route: 'GET /api/v1/images' },
  { method: 'POST', re: /^\/api\/v1\/images$/, route: 'POST /api/v1/images' },
  { method: 'GET', re: /^\/api\/v1\/images\/[^/]+$/, route: 'GET /api/v1/images/:id' },
  { method: 'DELETE', re: /^\/api\/v1\/images\/[^/]+$/, route: 'DELETE /api/v1/images/:id' },
  { method: 'GET', re: /^\/api\/v1\/servers\/[^/]+\/disks$/, route: 'GET /api/v1/servers/:id/disks' },
];

/** The fake's disk id of a server (as in its `disks[]`). */
export const diskIdOf = (serverId: number): number => serverId * 10;


interface ImageRec {
  image: TwImage;
  readyAt: number;
  outcome: FakeImageOutcome;
  serverId: number | undefined;
}

export function registerFakeImages(app: Hono, ctx: FakeImagesContext, seeds: readonly FakeImageSeed[], opts: FakeImagesOptions = {}): FakeImages {
  const images = new Map<string, ImageRec>();
  let delay = opts.imageDelayMs ?? 5 * 60_000;
  let outcome: FakeImageOutcome = opts.imageOutcome ?? 'created';
  let powerOff =
    opts.guestPowerOffMs ?? ((s: FakeImagesServer) => (s.cloudInit?.includes('systemctl poweroff') ? 4 * 60_000 : undefined));
  // Keyed by the server record: a deleted server's entry goes with it (long simulations create many servers).
  let offAt = new WeakMap<FakeImagesServer, number>();
  const turningOffMs = opts.turningOffMs ?? 10_000;
  const iso = (ms: number): string => new Date(ms).toISOString();

  for (const s of seeds) {
    images.set(s.id, {
      image: {
        id: s.id,
        status: s.status ?? 'created',
        created_at: iso(ctx.now() - 86_400_000),
        deleted_at: null,
        size: 3072,
        virtual_size: 51200,
        name: s.name,
        description: s.description ?? '',
        disk_id: null,
        location: s.location ?? 'ru-1',
        os: 'ubuntu',
        progress: s.status === 'new' ? 0 : 100,
        is_custom: true,
        type: 'qcow2',
      },
      // A seed keeps its status (a `new` one stays `new` unless told when to be ready).
      readyAt: s.readyAfterMs === undefined ? Infinity : ctx.now() + s.readyAfterMs,
      outcome: s.readyAfterMs === undefined ? 'stuck' : 'created',
      serverId: undefined,
    });
  }

  function tick(): void {
    const now = ctx.now();
    for (const s of ctx.servers()) {
      if (s.status !== 'on' && s.status !== 'turning_off') continue;
      let at = offAt.get(s);
      if (at === undefined) {
        const after = s.startAt === null ? undefined : powerOff(s);
        at = after === undefined || s.startAt === null ? Infinity : s.startAt + after;
        offAt.set(s, at);
      }
      if (s.status === 'on' && now >= at) s.status = 'turning_off';
      if (s.status === 'turning_off' && now >= at + turningOffMs) {
        s.status = 'off';
        s.startAt = null;
      }
    }
    for (const r of images.values()) {
      const img = r.image;
      if (img.status !== 'new') continue;
      if (r.serverId !== undefined && !ctx.server(r.serverId)) {
        img.status = 'failed'; // its disk went away while it was being read
        continue;
      }
      if (r.outcome === 'stuck' || now < r.readyAt) {
        const span = Math.max(1, r.readyAt - Date.parse(img.created_at));
        img.progress = Math.min(99, Math.floor((100 * (now - Date.parse(img.created_at))) / span));
        continue;
      }
      img.status = r.outcome === 'failed' ? 'failed' : 'created';
      img.progress = img.status === 'created' ? 100 : img.progress;
      if (img.status === 'created') img.size = 2048; // the used part of the disk, compressed
    }
  }

  const copy = (r: ImageRec): TwImage => ({ ...r.image });
  const visible = (): ImageRec[] => [...images.values()].filter((r) => r.image.status !== 'deleted');

  app.get('/api/v1/images', (c) => {
    const limit = Number(c.req.query('limit') ?? 100);
    const offset = Number(c.req.query('offset') ?? 0);
    const errors: string[] = [];
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) errors.push('limit must be an integer between 1 and 1000');
    if (!Number.isInteger(offset) || offset < 0) errors.push('offset must be a non-negative integer');
    if (errors.length > 0) return ctx.apiError(400, 'bad_request', errors);
    const all = visible();
    return ctx.jsonResponse(200, { images: all.slice(offset, offset + limit).map(copy), meta: { total: all.length }, response_id: ctx.uuid() });
  });

  app.get('/api/v1/images/:id', (c) => {
    const r = images.get(c.req.param('id'));
    if (!r || r.image.status === 'deleted') return ctx.apiError(404, 'not_found', 'Image not found');
    return ctx.jsonResponse(200, { image: copy(r), response_id: ctx.uuid() });
  });

  app.delete('/api/v1/images/:id', (c) => {
    const r = images.get(c.req.param('id'));
    if (!r || r.image.status === 'deleted') return ctx.apiError(404, 'not_found', 'Image not found');
    r.image.status = 'deleted';
    r.image.deleted_at = iso(ctx.now());
    return new Response(null, { status: 204 });
  });

  app.post('/api/v1/images', async (c) => {
    const b = await ctx.objectBody(c);
    if (b instanceof Response) return b;
    const errors: string[] = [];
    if (b.name !== undefined && (typeof b.name !== 'string' || b.name.length > 255)) errors.push('name must be a string of at most 255 characters');
    if (b.description !== undefined && typeof b.description !== 'string') errors.push('description must be a string');
    if (typeof b.location !== 'string' || !ctx.locations().includes(b.location)) {
      errors.push(`location must be one of the following values: ${ctx.locations().join(', ')}`);
    }
    if (typeof b.os !== 'string' || !(IMAGE_OS_VALUES as readonly string[]).includes(b.os)) {
      errors.push(`os must be one of the following values: ${IMAGE_OS_VALUES.join(', ')}`);
    }
    const hasDisk = b.disk_id !== undefined;
    const hasUrl = b.upload_url !== undefined;
    if (hasDisk === hasUrl) errors.push('exactly one of disk_id or upload_url is required');
    if (hasDisk && !Number.isInteger(b.disk_id)) errors.push('disk_id must be an integer');
    if (hasUrl && (typeof b.upload_url !== 'string' || !/^https?:\/\/./.test(b.upload_url))) errors.push('upload_url must be a URL');
    if (errors.length > 0) return ctx.apiError(400, 'bad_request', errors);
    let server: FakeImagesServer | undefined;
    if (hasDisk) {
      server = [...ctx.servers()].find((s) => diskIdOf(s.id) === b.disk_id);
      if (!server) return ctx.apiError(404, 'not_found', 'Disk not found');
      if (server.status !== 'off') {
        return ctx.apiError(409, 'conflict', 'The server must be turned off to create an image of its disk');
      }
      if (server.location !== b.location) {
        return ctx.apiError(400, 'bad_request', [`location must be the disk's location ${server.location}`]);
      }
    }
    const now = ctx.now();
    const id = ctx.uuid();
    const rec: ImageRec = {
      image: {
        id,
        status: 'new',
        created_at: iso(now),
        deleted_at: null,
        size: 0,
        virtual_size: server?.disk ?? 0,
        name: typeof b.name === 'string' && b.name !== '' ? b.name : `image ${id}`,
        description: typeof b.description === 'string' ? b.description : '',
        disk_id: server ? diskIdOf(server.id) : null,
        location: String(b.location),
        os: String(b.os),
        progress: 0,
        is_custom: true,
        type: 'qcow2',
      },
      readyAt: now + delay,
      outcome,
      serverId: server?.id,
    };
    images.set(id, rec);
    return ctx.jsonResponse(201, { image: copy(rec), response_id: ctx.uuid() });
  });

  app.get('/api/v1/servers/:id/disks', (c) => {
    const raw = c.req.param('id');
    const s = /^\d+$/.test(raw) ? ctx.server(Number(raw)) : undefined;
    if (!s) return ctx.apiError(404, 'not_found', 'Server not found');
    const disk = {
      id: diskIdOf(s.id),
      size: s.disk,
      used: 2048,
      type: 'nvme',
      is_mounted: true,
      is_system: true,
      system_name: 'vda',
      status: 'done',
    };
    return ctx.jsonResponse(200, { server_disks: [disk], meta: { total: 1 }, response_id: ctx.uuid() });
  });

  return {
    tick,
    bootImage: (id, location) => {
      const r = typeof id === 'string' ? images.get(id) : undefined;
      if (!r || r.image.status === 'deleted') return { error: `image_id ${String(id)} does not exist` };
      if (r.image.status !== 'created') return { error: `image_id ${String(id)} is not ready (status ${r.image.status})` };
      if (location !== undefined && r.image.location !== location) {
        return { error: `image_id ${String(id)} is in location ${String(r.image.location)}, not ${location}` };
      }
      return { image: { id: r.image.id, name: r.image.name } };
    },
    list: () => [...images.values()].map(copy),
    setImageOutcome: (o) => {
      outcome = o;
    },
    setImageDelay: (ms) => {
      delay = ms;
    },
    setGuestPowerOff: (fn) => {
      powerOff = fn;
      offAt = new WeakMap();
    },
  };
}
