import { timewebOptionError } from './options.js';
import type { TwImage } from './images-api.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Resolves `--timewebcloud-image-id`: an image id (uuid) or an image name (`twcloud-scaler-agent-<hash>`, as
 * `timeweb image build` prints). A name used by several ready images picks one in `preferLocation`, else the newest.
 * The image must be `created`; anything else fails at start-up naming the flag.
 */
export function resolveImage(list: readonly TwImage[], value: string, preferLocation?: string): TwImage {
  const live = list.filter((i) => i.status !== 'deleted');
  const byId = UUID.test(value) ? live.find((i) => i.id.toLowerCase() === value.toLowerCase()) : undefined;
  const named = byId ? [byId] : live.filter((i) => i.name === value);
  if (named.length === 0) {
    const names = live.map((i) => `${i.name} (${i.id})`);
    const known = names.length === 0 ? 'the account has no images' : `available: ${names.slice(0, 20).join(', ')}`;
    throw timewebOptionError('timewebcloudImageId', `image ${value} not found; ${known} (see \`twcloud-scaler timeweb list images\`)`);
  }
  const ready = named.filter((i) => i.status === 'created');
  if (ready.length === 0) {
    const i = named[0] as TwImage;
    const progress = i.status === 'new' && i.progress !== null ? `, ${i.progress}%` : '';
    throw timewebOptionError('timewebcloudImageId', `image ${value} is not ready to boot servers (status "${i.status}"${progress})`);
  }
  const newest = (a: TwImage, b: TwImage): number => Date.parse(b.created_at) - Date.parse(a.created_at);
  const inLocation = ready.filter((i) => preferLocation !== undefined && i.location === preferLocation).sort(newest);
  return inLocation[0] ?? (ready.sort(newest)[0] as TwImage);
}
