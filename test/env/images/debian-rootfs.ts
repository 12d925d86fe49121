/**
 * Debian root filesystems made with debootstrap on the host, for images built where no
 * container registry is reachable: Debian's package mirror is, and `docker import` turns
 * the tarball into a base image.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cached } from '../cache.js';
import { EnvError } from '../errors.js';
import { run } from '../process.js';
import { slowStep } from '../progress.js';
import { ensureDebianPackage } from '../tools.js';
import { cacheRoot, versions } from '../versions.js';

/** The mirror the host's apt reaches; debootstrap verifies it with the host's Debian keyring. */
const DEBIAN_MIRROR = 'http://deb.debian.org/debian';

/** What to put on top of debootstrap's minimal base (`--variant=minbase`: essential packages and apt). */
export interface RootfsSpec {
  /** A short name for the cache folder, e.g. `redis`. */
  name: string;
  /** Debian packages to install with their dependencies. */
  packages: readonly string[];
  /** Changes made in the unpacked tree before it is packed (as root, e.g. with chroot). */
  finish?: (rootDir: string) => Promise<void>;
  /** Bump when `finish` changes, so cached trees made by the old one are not reused. */
  revision?: number;
}

/** A bookworm root filesystem as a tarball, made once and cached. */
export interface Rootfs {
  tarball: string;
  /** sha256 of the tarball, so an image made from it can say which one it was. */
  digest: string;
}

/** Where the image parts are cached: `~/.cache/chatcluster/images/`. */
export function imagesCacheDir(...parts: string[]): string {
  return join(cacheRoot(), 'images', ...parts);
}

/** Makes (once) a trimmed Debian root filesystem with `spec.packages` installed. */
export async function debianRootfs(spec: RootfsSpec): Promise<Rootfs> {
  const key = createHash('sha256').update(JSON.stringify([spec.packages, spec.revision ?? 0])).digest('hex').slice(0, 12);
  const dir = await cached(imagesCacheDir(`rootfs-${versions.debian}-${spec.name}-${key}`), async (staging) => {
    const debootstrap = await requireDebootstrap();
    const root = join(staging, 'root');
    const debs = imagesCacheDir('debs');
    mkdirSync(debs, { recursive: true });
    let lastStep: string | undefined;
    await slowStep(
      `Debian ${versions.debian} root filesystem for ${spec.name} (debootstrap)`,
      () =>
        run(debootstrap, [
          '--variant=minbase',
          ...(spec.packages.length > 0 ? [`--include=${spec.packages.join(',')}`] : []),
          // The .deb files are kept between rootfs builds: each image shares most of them.
          `--cache-dir=${debs}`,
          versions.debian,
          root,
          DEBIAN_MIRROR,
        ], {
          onLine: (line) => { if (line.startsWith('I: ')) lastStep = line.slice(3); },
          remedy: `debootstrap needs Debian's mirror (${DEBIAN_MIRROR}); check that apt-get update works`,
        }),
      () => lastStep,
    );
    trim(root);
    await spec.finish?.(root);
    const tarball = join(staging, 'rootfs.tar');
    // Numeric owners: the image's users are the tree's, not the host's of the same name.
    await run('tar', ['--numeric-owner', '--xattrs', '-C', root, '-cf', tarball, '--exclude=./dev/*', '--exclude=./proc/*', '--exclude=./sys/*', '.']);
    rmSync(root, { recursive: true, force: true });
    writeFileSync(join(staging, 'rootfs.sha256'), await fileDigest(tarball));
  });
  return { tarball: join(dir, 'rootfs.tar'), digest: readFileSync(join(dir, 'rootfs.sha256'), 'utf8') };
}

/** sha256 of a file's content, hex. */
export async function fileDigest(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function requireDebootstrap(): Promise<string> {
  if (process.getuid?.() !== 0) {
    throw new EnvError('making a Debian root filesystem for the local images needs root (debootstrap, chroot)', 'run as root, or use a machine where the official images can be pulled');
  }
  return ensureDebianPackage('debootstrap', 'debootstrap');
}

/**
 * What Debian's own slim images leave out: apt's package lists and caches, manuals,
 * documentation but the copyright files, translations. A smaller image loads into kind faster.
 */
function trim(root: string): void {
  for (const dir of ['var/cache/apt', 'var/lib/apt/lists', 'usr/share/man', 'usr/share/info', 'usr/share/locale']) {
    const path = join(root, dir);
    if (!existsSync(path)) continue;
    for (const entry of readdirSync(path)) {
      if (entry === 'locale.alias' || entry === 'lock' || entry === 'partial') continue;
      rmSync(join(path, entry), { recursive: true, force: true });
    }
  }
  const docs = join(root, 'usr/share/doc');
  if (existsSync(docs)) {
    for (const pkg of readdirSync(docs, { withFileTypes: true })) {
      if (!pkg.isDirectory()) continue;
      for (const entry of readdirSync(join(docs, pkg.name))) {
        if (entry !== 'copyright') rmSync(join(docs, pkg.name, entry), { recursive: true, force: true });
      }
    }
  }
}
