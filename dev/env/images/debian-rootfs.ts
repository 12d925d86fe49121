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

/** The mirrors the host's apt reaches; debootstrap verifies them with the host's Debian keyring. */
const DEBIAN_MIRROR = 'http://deb.debian.org/debian';
const DEBIAN_SECURITY_MIRROR = 'http://deb.debian.org/debian-security';
/** Bump when the way a tree is made changes, so trees made the old way are not reused. */
const RECIPE = 2;
const CHROOT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

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
  const key = createHash('sha256').update(JSON.stringify([RECIPE, spec.packages, spec.revision ?? 0])).digest('hex').slice(0, 12);
  const prefix = `rootfs-${versions.debian}-${spec.name}-`;
  const dir = await cached(imagesCacheDir(`${prefix}${key}`), async (staging) => {
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
    await slowStep(`Debian ${versions.debian} root filesystem for ${spec.name}: security and stable updates`, () => applyUpdates(root));
    trim(root);
    await spec.finish?.(root);
    const tarball = join(staging, 'rootfs.tar');
    // Numeric owners: the image's users are the tree's, not the host's of the same name.
    await run('tar', ['--numeric-owner', '--xattrs', '-C', root, '-cf', tarball, '--exclude=./dev/*', '--exclude=./proc/*', '--exclude=./sys/*', '.']);
    rmSync(root, { recursive: true, force: true });
    writeFileSync(join(staging, 'rootfs.sha256'), await fileDigest(tarball));
  });
  // Trees of this name made by an older recipe or package list are never used again.
  for (const entry of readdirSync(imagesCacheDir())) {
    if (entry.startsWith(prefix) && entry !== `${prefix}${key}` && /^[0-9a-f]+$/.test(entry.slice(prefix.length))) rmSync(imagesCacheDir(entry), { recursive: true, force: true });
  }
  return { tarball: join(dir, 'rootfs.tar'), digest: readFileSync(join(dir, 'rootfs.sha256'), 'utf8') };
}

/** sha256 of a file's content, hex. */
export async function fileDigest(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * debootstrap installs the release as of its last point release; Debian's own images, and
 * the official images built on them, also carry the security and stable updates since.
 * So does this tree: both suites in its sources, then `apt-get upgrade` inside it.
 */
async function applyUpdates(root: string): Promise<void> {
  writeFileSync(
    join(root, 'etc/apt/sources.list'),
    [`deb ${DEBIAN_MIRROR} ${versions.debian} main`, `deb ${DEBIAN_MIRROR} ${versions.debian}-updates main`, `deb ${DEBIAN_SECURITY_MIRROR} ${versions.debian}-security main`, ''].join('\n'),
  );
  // No service may start inside the tree while its packages are upgraded.
  const policy = join(root, 'usr/sbin/policy-rc.d');
  writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  const proc = join(root, 'proc');
  await run('mount', ['-t', 'proc', 'proc', proc]);
  try {
    const env = { PATH: CHROOT_PATH, DEBIAN_FRONTEND: 'noninteractive' };
    const remedy = `apt-get inside the tree needs Debian's mirrors (${DEBIAN_MIRROR}, ${DEBIAN_SECURITY_MIRROR})`;
    await run('chroot', [root, 'apt-get', 'update', '-qq'], { env, remedy });
    await run('chroot', [root, 'apt-get', 'upgrade', '-y', '-qq', '-o', 'Dpkg::Options::=--force-confold'], { env, remedy });
    await run('chroot', [root, 'apt-get', 'clean'], { env });
  } finally {
    await run('umount', [proc]);
    rmSync(policy, { force: true });
  }
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
  // debootstrap copied the host's resolver settings in; the engine mounts a container's own.
  writeFileSync(join(root, 'etc/resolv.conf'), '');
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
