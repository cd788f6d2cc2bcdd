import { Option } from 'commander';
import type { Command } from 'commander';
import { validateTemplate } from '../cloudinit/render.js';
import { addOptions } from '../config/commander.js';
import { toCoreConfig } from '../config/core-config.js';
import { coreOptions } from '../config/core-options.js';
import { ConfigError } from '../config/types.js';
import type { OptionSpec, OptionValues } from '../config/types.js';
import { buildImage, ImageBuildError } from '../providers/timeweb/image-build.js';
import { makeRecipe, ourImageHash } from '../providers/timeweb/image-recipe.js';
import { listImages } from '../providers/timeweb/images-api.js';
import { readTimewebOptions, timewebOptions } from '../providers/timeweb/options.js';
import { osLabel, resolveTimewebSettings } from '../providers/timeweb/resolve.js';
import type { TimewebClient } from '../providers/timeweb/client.js';
import { errorMessage } from '../util/guards.js';
import { describeToolError, makeClient, toolLogger } from './timeweb-common.js';
import type { ToolDeps } from './timeweb-common.js';
import { elapsed, formatTable, gbNumber, utcMinute } from './timeweb-format.js';
import type { TimewebTestResult } from './timeweb-test.js';

/**
 * `twcloud-scaler timeweb image build` (a baked agent image: Docker and the agent image pre-installed) and
 * `timeweb list images`. The build steps are in providers/timeweb/image-build.ts; this is the command around them.
 */

function coreSpec(key: string): OptionSpec {
  const s = coreOptions.find((o) => o.key === key);
  if (!s) throw new Error(`no core option ${key}`);
  return s;
}

/** Options of `timeweb image build`: what the recipe is made of (OS, agent image, template) + the provider's. */
export function imageBuildSpecs(): OptionSpec[] {
  return [
    ...['poolId', 'serverUrl', 'installationId', 'requestTimeout', 'agentImage', 'cloudinitTemplate'].map(coreSpec),
    ...timewebOptions,
  ];
}

export interface ImageBuildCommandOptions {
  values: OptionValues;
  /** Extra shell commands for the builder (`--install-script FILE`, its text). */
  installScript?: string;
  installTimeoutMs: number;
  imageTimeoutMs: number;
  pollMs: number;
  verbose: boolean;
  deps: ToolDeps;
}

export interface ImageBuildCommandResult {
  exitCode: number;
  message?: string;
  imageId?: string;
}

/** Runs the build; progress on stderr, the image id alone on stdout (so `ID=$(… image build)` works). */
export async function runImageBuild(o: ImageBuildCommandOptions): Promise<ImageBuildCommandResult> {
  const { deps } = o;
  const note = (s: string): void => (deps.stderr ?? ((x: string) => void process.stderr.write(x)))(`${s}\n`);
  const core = toCoreConfig(o.values, { requireServer: false });
  if (core.cloudinitTemplate !== '') validateTemplate(core.cloudinitTemplate);
  // The image is built from the OS, also when the pool already boots from an image.
  const t = { ...readTimewebOptions(o.values), imageId: undefined };
  const client = makeClient(t, core, deps);
  const settings = await resolveTimewebSettings(client, t, toolLogger(deps, o.verbose ? 'info' : 'warn'));
  if (!settings.os) throw new ConfigError('--timewebcloud-os-id: the image is built from an OS');
  const recipe = makeRecipe({
    osId: settings.os.id,
    osLabel: osLabel(settings.os),
    agentImage: core.agentImage,
    template: core.cloudinitTemplate,
    ...(o.installScript !== undefined ? { installScript: o.installScript } : {}),
  });
  note(`recipe ${recipe.hash}: ${recipe.osLabel}, Docker, ${recipe.agentImage}${o.installScript ? ', --install-script' : ''}`);

  const abort = new AbortController();
  const off = deps.onInterrupt((signal) => {
    note(`${signal}: stopping; deleting what the build created…`);
    abort.abort(new Error(`interrupted (${signal})`));
  });
  const t0 = deps.clock.now();
  try {
    const r = await buildImage({
      client,
      clock: deps.clock,
      settings,
      recipe,
      owner: { poolId: core.poolId, installationId: core.installationId },
      installTimeoutMs: o.installTimeoutMs,
      imageTimeoutMs: o.imageTimeoutMs,
      pollMs: o.pollMs,
      log: (msg) => note(`[${elapsed(deps.clock.now() - t0).padStart(7)}] ${msg}`),
      signal: abort.signal,
    });
    const img = r.image;
    if (r.reused) note(`image ${img.name} (${img.id}) with this recipe already exists: reused (nothing built)`);
    else {
      const tm = r.timings;
      const how = tm ? ` (install ${elapsed(tm.installMs)}, image ${elapsed(tm.imageMs)})` : '';
      note(`image ${img.name} (${img.id}) is ready in ${img.location ?? '?'} after ${elapsed(deps.clock.now() - t0)}${how}`);
    }
    if (r.left.length > 0) note(`NOT deleted (delete by hand in the Timeweb panel): ${r.left.join('; ')}`);
    note(`Boot agents from it: WOODPECKER_TIMEWEBCLOUD_IMAGE_ID=${img.id} (or --timewebcloud-image-id ${img.name})`);
    deps.out(`${img.id}\n`);
    return { exitCode: r.left.length > 0 ? 1 : 0, imageId: img.id };
  } catch (err) {
    const left = err instanceof ImageBuildError ? err.left : [];
    const why = abort.signal.aborted ? errorMessage(abort.signal.reason) : describeToolError(err, t.apiUrl).message;
    const tail = left.length > 0 ? `; NOT deleted: ${left.join('; ')}` : '; everything the build created was deleted';
    return { exitCode: abort.signal.aborted ? 130 : 1, message: `${why}${tail}` };
  } finally {
    off();
  }
}

/** `timeweb list images`: every image of the account; ours (name and description marker agree) marked. */
export async function listImagesOutput(client: TimewebClient): Promise<{ json: unknown; text: string }> {
  const all = (await listImages(client)).sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  const rows = all.map((i) => [
    ourImageHash(i) !== undefined ? 'yes' : '',
    i.id,
    i.name,
    i.status === 'new' && i.progress !== null ? `new ${i.progress}%` : i.status,
    i.location ?? '-',
    i.os ?? '-',
    typeof i.size === 'number' && i.size > 0 ? gbNumber(i.size) : '-',
    utcMinute(i.created_at),
  ]);
  const table = formatTable(
    [
      { header: 'OURS' },
      { header: 'ID' },
      { header: 'NAME' },
      { header: 'STATUS' },
      { header: 'LOCATION' },
      { header: 'OS' },
      { header: 'SIZE GB', right: true },
      { header: 'CREATED (UTC)' },
    ],
    rows,
  );
  const lines = [`${all.length} image${all.length === 1 ? '' : 's'}.`, ''];
  lines.push(all.length === 0 ? 'No images. Build one with `twcloud-scaler timeweb image build`.' : table, '');
  lines.push('OURS = built by `twcloud-scaler timeweb image build` (name twcloud-scaler-agent-<recipe hash>).');
  lines.push('Boot agents from one with WOODPECKER_TIMEWEBCLOUD_IMAGE_ID=<ID or NAME>; only "created" images can boot servers.');
  const json = all.map((i) => ({ ...i, ours: ourImageHash(i) !== undefined }));
  return { json, text: `${lines.join('\n')}\n` };
}

/** `timeweb test --image X`: the same test from the OS, then from the image; prints both times to the agent. */
export async function runBootComparison(
  values: OptionValues,
  image: string,
  run: (values: OptionValues) => Promise<TimewebTestResult>,
  out: (s: string) => void,
  upTo: string,
): Promise<TimewebTestResult> {
  const fromOs: OptionValues = Object.fromEntries(Object.entries(values).filter(([k]) => k !== 'timewebcloudImageId'));
  out('=== 1/2: from the OS ===\n');
  const a = await run(fromOs);
  if (a.exitCode !== 0) return a;
  out('\n=== 2/2: from the image ===\n');
  const b = await run({ ...values, timewebcloudImageId: image });
  const show = (r: TimewebTestResult): string => (r.upMs !== undefined ? elapsed(r.upMs) : 'failed');
  const rows = [
    ['OS', show(a)],
    [`image ${image}`, show(b)],
  ];
  out(`\nBoot time, create request → ${upTo}:\n${formatTable([{ header: 'FROM' }, { header: 'TIME', right: true }], rows, '  ')}\n`);
  return b;
}

export interface ImageCommandHelpers {
  fail: (cmd: Command, err: unknown) => never;
  duration: (flag: string, raw: string) => number;
  resolveValues: (cmd: Command, specs: readonly OptionSpec[], deps: ToolDeps) => OptionValues;
}

/** Adds `timeweb image build` under the `timeweb` command. */
export function registerImageCommands(tw: Command, deps: ToolDeps, h: ImageCommandHelpers): void {
  const image = tw.command('image').description('Baked agent images: Docker and the agent image pre-installed, for faster boots');
  const build = image
    .command('build')
    .description(
      'Build (or reuse) an image with Docker and the agent image installed: a builder server installs, seals and ' +
        'powers itself off, an image is made of its disk, the builder and its IP are deleted. Prints the image id',
    )
    .option('--install-script <FILE>', 'extra shell commands to run on the builder (part of the recipe: a change rebuilds)')
    .option('--timeout <DURATION>', 'how long the builder may take to install and power off', '30m')
    .option('--image-timeout <DURATION>', 'how long Timeweb may take to make the image', '30m')
    .option('--verbose', "show the provider's log lines (info level)")
    .addOption(new Option('--poll-interval <DURATION>', 'status poll interval').default('10s').hideHelp());
  addOptions(build, imageBuildSpecs());
  build.action(async function (this: Command) {
    let result: ImageBuildCommandResult;
    try {
      const o = this.opts<{ installScript?: string; timeout: string; imageTimeout: string; pollInterval: string; verbose?: boolean }>();
      const installTimeoutMs = h.duration('--timeout', o.timeout);
      const imageTimeoutMs = h.duration('--image-timeout', o.imageTimeout);
      const pollMs = h.duration('--poll-interval', o.pollInterval);
      if (!(installTimeoutMs > 0 && imageTimeoutMs > 0 && pollMs > 0)) throw new ConfigError('--timeout, --image-timeout and --poll-interval must be greater than 0');
      let installScript: string | undefined;
      if (o.installScript !== undefined) {
        try {
          installScript = deps.readFile(o.installScript);
        } catch (err) {
          throw new ConfigError(`--install-script: cannot read ${o.installScript}: ${errorMessage(err)}`);
        }
      }
      const values = h.resolveValues(this, imageBuildSpecs(), deps);
      result = await runImageBuild({
        values,
        ...(installScript !== undefined ? { installScript } : {}),
        installTimeoutMs,
        imageTimeoutMs,
        pollMs,
        verbose: o.verbose === true,
        deps,
      });
    } catch (err) {
      h.fail(this, err);
    }
    if (result.exitCode !== 0) {
      this.error(`twcloud-scaler timeweb image build: ${result.message ?? 'failed'}`, { exitCode: result.exitCode, code: 'twcloud.timeweb' });
    }
  });
}
