/**
 * A local stand-in for an official image the operator names: a Debian root filesystem
 * with the packages it needs, imported as a base, and a small Dockerfile on top that
 * gives it the official image's user, paths, entry point and settings. It is tagged with
 * the official name, so the operator's objects run it unchanged; an official image the
 * engine already has (or can pull) is used instead.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import type { DockerEngine } from '../docker/engine.js';
import { slowStep } from '../progress.js';
import { versions } from '../versions.js';
import { lock } from '../cache.js';
import { debianRootfs, imagesCacheDir, type Rootfs, type RootfsSpec } from './debian-rootfs.js';
import { buildImage, imageLabels, importRootfs, INPUTS_LABEL, isForeignImage, tryPull } from './engine-images.js';

export interface SubstituteSpec {
  /** The official image's name, e.g. `redis:7.4.2`; the stand-in is tagged with it. */
  image: string;
  rootfs: RootfsSpec;
  /** Files that decide the build besides the root filesystem (the Dockerfile's folder, jars, ...). */
  inputs: readonly string[];
  /** Makes the build context (the Dockerfile in it); called only when a build is needed. */
  context: () => Promise<{ dir: string; cleanup: () => void }>;
  /** Labels telling what the stand-in really holds, e.g. the packaged Redis version. */
  labels?: () => Promise<Record<string, string>>;
}

/** What an image the environment needs turned out to be. */
export interface ProvidedImage {
  image: string;
  /** `official`: the engine had it or pulled it; `local`: the stand-in, reused or built now. */
  source: 'official' | 'local';
}

/** The official image when it can be had, else the stand-in (made once, rebuilt when its inputs change). */
export async function provideSubstitute(engine: DockerEngine, spec: SubstituteSpec): Promise<ProvidedImage> {
  if ((await isForeignImage(engine, spec.image)) || (await tryPull(engine, spec.image))) return { image: spec.image, source: 'official' };
  const rootfs = await debianRootfs(spec.rootfs);
  const inputs = createHash('sha256').update(rootfs.digest);
  for (const path of spec.inputs) hashTree(inputs, path);
  const digest = inputs.digest('hex');
  // Two runs at once (the e2e setup and the images test) make the image once: the second waits, then finds it.
  const release = await lock(imagesCacheDir(`${spec.image.replace(/[^\w.-]/g, '_')}.lock`));
  try {
    if ((await imageLabels(engine, spec.image))?.[INPUTS_LABEL] !== digest) await makeSubstitute(engine, spec, rootfs, digest);
  } finally {
    release();
  }
  return { image: spec.image, source: 'local' };
}

/** Imports the root filesystem (when the engine lacks it) and builds the stand-in on it. */
async function makeSubstitute(engine: DockerEngine, spec: SubstituteSpec, rootfs: Rootfs, digest: string): Promise<void> {
  const base = `chatcluster.local/${spec.rootfs.name}-rootfs:${versions.debian}`;
  if ((await imageLabels(engine, base))?.[INPUTS_LABEL] !== rootfs.digest) {
    await slowStep(`importing ${base}`, () =>
      importRootfs(engine, rootfs.tarball, base, ['ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', `LABEL ${INPUTS_LABEL}=${rootfs.digest}`]),
    );
  }
  const context = await spec.context();
  try {
    let lastLine: string | undefined;
    await slowStep(
      `building ${spec.image} (a local stand-in for the official image)`,
      async () =>
        buildImage(
          engine,
          { context: context.dir, tag: spec.image, buildArgs: { BASE_IMAGE: base }, labels: { [INPUTS_LABEL]: digest, ...(await spec.labels?.()) } },
          (line) => { if (/^#\d+ \[/.test(line)) lastLine = line.slice(0, 100); },
        ),
      () => lastLine,
    );
  } finally {
    context.cleanup();
  }
}

/** Feeds every file under `path` (names, modes, contents) into `hash`, in a stable order. */
function hashTree(hash: ReturnType<typeof createHash>, path: string): void {
  const stat = statSync(path);
  if (!stat.isDirectory()) {
    hash.update(`${basename(path)}\0${stat.mode}\0`).update(readFileSync(path));
    return;
  }
  const files = readdirSync(path, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
  for (const file of files) hash.update(`${relative(path, file)}\0${statSync(file).mode}\0`).update(readFileSync(file));
}
