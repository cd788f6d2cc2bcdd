import { isRecord } from '../../util/guards.js';
import { TimewebApiError } from './client.js';
import type { TimewebClient } from './client.js';
import type { TwServerDisk } from './types.js';

/**
 * The image endpoints of the Timeweb Cloud API (OpenAPI tag "Images") and the server disk listing the image build
 * needs, as functions over a {@link TimewebClient} (same rate limit, retries for GET/DELETE only, error mapping).
 *
 * - `POST /api/v1/images` `{name, description, disk_id, location, os}` → 201 `{image}`; `location` and `os` are
 *   required by the spec (`os` is an enum: ubuntu, debian, centos, almalinux, archlinux, astralinux, … `other`).
 * - Image `status`: `new` (being created, `progress` 0–100) → `created` (usable as `image_id`) or `failed`;
 *   `deleted` also exists in the enum.
 * - `GET /api/v1/images` pages with `limit`/`offset` and `meta.total`, like the server list.
 * - `DELETE /api/v1/images/{id}` → 204.
 * - `GET /api/v1/servers/{id}/disks` → `{server_disks: [{id, is_system, size, …}]}`.
 */

export type TimewebImageEndpoint =
  | 'GET /api/v1/images'
  | 'GET /api/v1/images/:id'
  | 'POST /api/v1/images'
  | 'DELETE /api/v1/images/:id'
  | 'GET /api/v1/servers/:id/disks';

export type TwImageStatus = 'new' | 'created' | 'failed' | 'deleted' | (string & {});

/** The OS enum of `POST /api/v1/images` (spec schema `OS`). */
export const IMAGE_OS_VALUES = [
  'centos',
  'almalinux',
  'debian',
  'bitrix',
  'ubuntu',
  'brainycp',
  'archlinux',
  'astralinux',
  'windows',
  'custom_os',
  'other',
] as const;

/** The spec's `image` object. Fields the API may null are typed so; `name`/`description` are normalised to strings. */
export interface TwImage {
  /** uuid */
  id: string;
  status: TwImageStatus;
  created_at: string;
  deleted_at?: string | null;
  /** MB (physical) */
  size?: number | null;
  /** MB (virtual) */
  virtual_size?: number | null;
  name: string;
  description: string;
  disk_id: number | null;
  location: string | null;
  os: string | null;
  /** 0–100 */
  progress: number | null;
  is_custom?: boolean;
  type?: string;
}

export interface TwCreateImageRequest {
  name: string;
  description: string;
  disk_id: number;
  location: string;
  /** One of {@link IMAGE_OS_VALUES}. */
  os: string;
}

function enc(x: string | number): string {
  return encodeURIComponent(String(x));
}

function malformed(endpoint: TimewebImageEndpoint, what: string): TimewebApiError {
  return new TimewebApiError({ kind: 'malformed', status: 200, endpoint, apiMessage: `unexpected response: ${what}` });
}

function image(endpoint: TimewebImageEndpoint, x: unknown): TwImage {
  if (!isRecord(x) || typeof x.id !== 'string' || x.id === '') throw malformed(endpoint, 'an image without "id"');
  if (typeof x.status !== 'string') throw malformed(endpoint, `image ${x.id} without "status"`);
  return {
    ...(x as unknown as TwImage),
    name: typeof x.name === 'string' ? x.name : '',
    description: typeof x.description === 'string' ? x.description : '',
    disk_id: typeof x.disk_id === 'number' ? x.disk_id : null,
    location: typeof x.location === 'string' ? x.location : null,
    os: typeof x.os === 'string' ? x.os : null,
    progress: typeof x.progress === 'number' ? x.progress : null,
    created_at: typeof x.created_at === 'string' ? x.created_at : '',
  };
}

function list(endpoint: TimewebImageEndpoint, body: unknown, key: string): unknown[] {
  const v = isRecord(body) ? body[key] : undefined;
  if (v === null) return [];
  if (!Array.isArray(v)) throw malformed(endpoint, `expected "${key}" to be an array`);
  return v;
}

/** Every image of the account (all pages). */
export async function listImages(client: TimewebClient, signal?: AbortSignal, pageSize = 100): Promise<TwImage[]> {
  const endpoint: TimewebImageEndpoint = 'GET /api/v1/images';
  const out: TwImage[] = [];
  for (let offset = 0, pages = 0; pages < 1000; pages++) {
    const path = `/api/v1/images?limit=${enc(pageSize)}&offset=${enc(offset)}`;
    const body = await client.requestJson({ method: 'GET', endpoint, path }, signal);
    const page = list(endpoint, body, 'images').map((x) => image(endpoint, x));
    out.push(...page);
    offset += page.length;
    const meta = isRecord(body) && isRecord(body.meta) ? body.meta : undefined;
    const total = typeof meta?.total === 'number' ? meta.total : undefined;
    if (page.length === 0 || (total !== undefined && offset >= total) || (total === undefined && page.length < pageSize)) break;
  }
  return out;
}

/** `GET /api/v1/images/{id}`; undefined on 404. */
export async function getImage(client: TimewebClient, id: string, signal?: AbortSignal): Promise<TwImage | undefined> {
  const endpoint: TimewebImageEndpoint = 'GET /api/v1/images/:id';
  try {
    const body = await client.requestJson({ method: 'GET', endpoint, path: `/api/v1/images/${enc(id)}` }, signal);
    return image(endpoint, isRecord(body) ? body.image : undefined);
  } catch (err) {
    if (err instanceof TimewebApiError && err.status === 404) return undefined;
    throw err;
  }
}

/** `POST /api/v1/images` from a server disk. Never retried: after an ambiguous failure, list before creating again. */
export async function createImage(client: TimewebClient, req: TwCreateImageRequest, signal?: AbortSignal): Promise<TwImage> {
  const endpoint: TimewebImageEndpoint = 'POST /api/v1/images';
  const body = await client.requestJson({ method: 'POST', endpoint, path: '/api/v1/images', body: req }, signal);
  return image(endpoint, isRecord(body) ? body.image : undefined);
}

/** `DELETE /api/v1/images/{id}`: 204 → deleted, 404 → not-found. */
export async function deleteImage(client: TimewebClient, id: string, signal?: AbortSignal): Promise<'deleted' | 'not-found'> {
  const endpoint: TimewebImageEndpoint = 'DELETE /api/v1/images/:id';
  try {
    await client.requestJson({ method: 'DELETE', endpoint, path: `/api/v1/images/${enc(id)}` }, signal);
    return 'deleted';
  } catch (err) {
    if (err instanceof TimewebApiError && err.status === 404) return 'not-found';
    throw err;
  }
}

/** `GET /api/v1/servers/{id}/disks`. */
export async function listServerDisks(client: TimewebClient, serverId: number, signal?: AbortSignal): Promise<TwServerDisk[]> {
  const endpoint: TimewebImageEndpoint = 'GET /api/v1/servers/:id/disks';
  const body = await client.requestJson({ method: 'GET', endpoint, path: `/api/v1/servers/${enc(serverId)}/disks` }, signal);
  return list(endpoint, body, 'server_disks').map((x) => {
    if (!isRecord(x) || typeof x.id !== 'number') throw malformed(endpoint, 'a disk without "id"');
    return x as unknown as TwServerDisk;
  });
}

/** The `os` value for `POST /api/v1/images` from a Timeweb OS name (`ubuntu` → `ubuntu`; unknown → `other`). */
export function imageOsOf(osName: string | undefined): string {
  const n = (osName ?? '').toLowerCase();
  return (IMAGE_OS_VALUES as readonly string[]).includes(n) ? n : 'other';
}
