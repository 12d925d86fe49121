/** What the image builders ask of a Docker engine: inspect, pull, import, build. */
import { existsSync } from 'node:fs';
import { docker, dockerEnv, type DockerEngine } from '../docker/engine.js';
import { EnvError } from '../errors.js';
import { run } from '../process.js';
import { say } from '../progress.js';

/** The label by which an image made here records the inputs it was made from. */
export const INPUTS_LABEL = 'dev.chatcluster.image-inputs';

/** An image's labels, or undefined when the engine has no image of that name. */
export async function imageLabels(engine: DockerEngine, image: string): Promise<Record<string, string> | undefined> {
  try {
    const json = await docker(engine, ['image', 'inspect', '--format', '{{json .Config.Labels}}', image]);
    return (JSON.parse(json) as Record<string, string> | null) ?? {};
  } catch {
    return undefined;
  }
}

/** An image present here that this environment did not make: pulled from a registry, or loaded by the user. */
export async function isForeignImage(engine: DockerEngine, image: string): Promise<boolean> {
  const labels = await imageLabels(engine, image);
  return labels !== undefined && labels[INPUTS_LABEL] === undefined;
}

/** Once a pull has failed for want of a registry, later ones in this process are not tried. */
let registryUnreachable = false;

/**
 * Pulls `image` when a registry serves it. A machine without one fails fast (DNS) or at
 * the timeout; then the local substitute is built instead.
 */
export async function tryPull(engine: DockerEngine, image: string): Promise<boolean> {
  if (registryUnreachable) return false;
  try {
    await run('timeout', ['120', engine.client, 'pull', '--quiet', image], { env: dockerEnv(engine) });
    return true;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // No registry at all (no DNS, no route, timed out): the next pull would fail the same way.
    if (/no such host|dial tcp|i\/o timeout|connection refused|network is unreachable|exit code 124/i.test(message)) registryUnreachable = true;
    const reason = message.split('\n').filter((line) => line.trim() !== '').at(-1) ?? 'failed';
    say(`${image} cannot be pulled (${reason.trim()}): making it here`);
    return false;
  }
}

/** The image ID a name points at, or undefined. */
async function imageId(engine: DockerEngine, image: string): Promise<string | undefined> {
  return docker(engine, ['image', 'inspect', '--format', '{{.Id}}', image]).then((id) => id.trim(), () => undefined);
}

/**
 * Runs `make`, which (re)makes `image`, then removes the image the name pointed at before,
 * so repeated builds leave no untagged images behind. An old image still in use (a
 * container, another tag) stays.
 */
async function replacing(engine: DockerEngine, image: string, make: () => Promise<unknown>): Promise<void> {
  const before = await imageId(engine, image);
  await make();
  if (before !== undefined && before !== (await imageId(engine, image))) await docker(engine, ['image', 'rm', before]).catch(() => undefined);
}

/** `docker import` of a root filesystem tarball, with Dockerfile-style `changes` (ENV, CMD, LABEL, ...). */
export async function importRootfs(engine: DockerEngine, tarball: string, image: string, changes: readonly string[]): Promise<void> {
  await replacing(engine, image, () => docker(engine, ['import', ...changes.flatMap((change) => ['--change', change]), tarball, image]));
}

/** One `docker build` (BuildKit). */
export interface BuildRequest {
  context: string;
  dockerfile?: string;
  target?: string;
  tag: string;
  buildArgs?: Record<string, string>;
  labels?: Record<string, string>;
  /** BuildKit secrets by id: the file each is read from. */
  secrets?: Record<string, string>;
}

/** Runs `docker build`; the build's steps go to `onLine` (BuildKit's plain progress). */
export async function buildImage(engine: DockerEngine, request: BuildRequest, onLine?: (line: string) => void): Promise<void> {
  if (!existsSync(request.context)) throw new EnvError(`build context ${request.context} does not exist`);
  const args = [
    'build',
    '--progress=plain',
    '--tag', request.tag,
    ...(request.dockerfile === undefined ? [] : ['--file', request.dockerfile]),
    ...(request.target === undefined ? [] : ['--target', request.target]),
    ...Object.entries(request.buildArgs ?? {}).flatMap(([name, value]) => ['--build-arg', `${name}=${value}`]),
    ...Object.entries(request.labels ?? {}).flatMap(([name, value]) => ['--label', `${name}=${value}`]),
    ...Object.entries(request.secrets ?? {}).flatMap(([id, file]) => ['--secret', `id=${id},src=${file}`]),
    request.context,
  ];
  await replacing(engine, request.tag, () =>
    run(engine.client, args, {
      env: dockerEnv(engine),
      ...(onLine === undefined ? {} : { onLine }),
      remedy: 'the docker build above failed; its last lines say which step',
    }),
  );
}

/** An image's size in bytes, as `docker image inspect` reports it. */
export async function imageSize(engine: DockerEngine, image: string): Promise<number> {
  return Number(await docker(engine, ['image', 'inspect', '--format', '{{.Size}}', image]));
}
