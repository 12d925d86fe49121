import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { dockerEnv, type DockerEngine } from '../../docker/engine.js';
import { run } from '../../process.js';
import { versions } from '../../versions.js';

/** What kind's node needs in its containerd before the first pod: kubeadm's images and kind's storage. */
export interface PreloadBinaries {
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubeProxy: string;
  etcd: string;
  coredns: string;
  pause: string;
  localPathProvisioner: string;
}

/** kubeadm 1.35's own image choices (`kubeadm config images list`), which the preloaded images must match. */
const KUBEADM_ETCD_TAG = '3.6.6-0';
/** kind's containerd config names pause 3.10 as its sandbox image; kubeadm 1.35 asks for 3.10.1. */
const PAUSE_TAGS = [versions.pause, '3.10'];

/** The entrypoint of kind's node images: kind's setup, then systemd. */
export const NODE_ENTRYPOINT = '["/usr/local/bin/entrypoint", "/sbin/init"]';

/** The image names kind's storage manifest refers to, read from the kind module. */
export interface KindStorage {
  manifest: string;
  provisionerImage: string;
  helperImage: string;
}

/**
 * kind's default StorageClass manifest (local-path-provisioner), read from the kind module's
 * node image build (pkg/build/nodeimage/const_storage.go) so it is kind's own, not a copy.
 */
export function kindStorage(kindModule: string): KindStorage {
  const source = readFileSync(join(kindModule, 'pkg/build/nodeimage/const_storage.go'), 'utf8');
  const constant = (name: string): string => {
    const value = new RegExp(`const ${name} = "([^"]+)"`).exec(source)?.[1];
    if (value === undefined) throw new Error(`kind's const_storage.go has no ${name}`);
    return value;
  };
  const provisionerImage = constant('storageProvisionerImage');
  const helperImage = constant('storageHelperImage');
  // The manifest is a Go raw string joined with the two image constants.
  const joined = source
    .replaceAll('` + storageProvisionerImage + `', provisionerImage)
    .replaceAll('` + storageHelperImage + `', helperImage);
  const manifest = /const defaultStorageManifest = `([^`]*)`/.exec(joined)?.[1];
  if (manifest === undefined) throw new Error("kind's const_storage.go has no defaultStorageManifest");
  return { manifest: manifest.trimStart(), provisionerImage, helperImage };
}

/**
 * Makes every image the node preloads, without a registry: a static Go (or C) binary
 * alone in an image made with `docker import`, or, where a shell and iptables are needed
 * (kube-proxy, the storage helper), the node's own base image plus the binary.
 * Resolves with the image names, as kubeadm and kind's manifests ask for them.
 */
export async function makePreloadImages(
  engine: DockerEngine,
  baseImage: string,
  binaries: PreloadBinaries,
  storage: KindStorage,
): Promise<string[]> {
  const k8s = `v${versions.kubernetes}`;
  const made: string[] = [];
  const alone = async (image: string, binary: string, entrypoint?: string): Promise<void> => {
    await importBinaryImage(engine, image, binary, entrypoint);
    made.push(image);
  };
  await alone(`registry.k8s.io/kube-apiserver:${k8s}`, binaries.kubeApiserver);
  await alone(`registry.k8s.io/kube-controller-manager:${k8s}`, binaries.kubeControllerManager);
  await alone(`registry.k8s.io/kube-scheduler:${k8s}`, binaries.kubeScheduler);
  await alone(`registry.k8s.io/etcd:${KUBEADM_ETCD_TAG}`, binaries.etcd);
  // The CoreDNS Deployment gives only arguments: the image's entrypoint is the server.
  await alone(`registry.k8s.io/coredns/coredns:v${versions.coredns}`, binaries.coredns, '/usr/local/bin/coredns');
  for (const tag of PAUSE_TAGS) await alone(`registry.k8s.io/pause:${tag}`, binaries.pause, '/usr/local/bin/pause');
  await alone(storage.provisionerImage, binaries.localPathProvisioner);
  await derivedImage(engine, baseImage, `registry.k8s.io/kube-proxy:${k8s}`, binaries.kubeProxy);
  made.push(`registry.k8s.io/kube-proxy:${k8s}`);
  await derivedImage(engine, baseImage, storage.helperImage);
  made.push(storage.helperImage);
  return made;
}

/** An image of one binary in /usr/local/bin, made with `docker import` (nothing pulled). */
async function importBinaryImage(engine: DockerEngine, image: string, binary: string, entrypoint?: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'chatcluster-image-'));
  try {
    const tarball = join(dir, 'image.tar');
    await run('tar', ['-c', '-f', tarball, '--owner=0', '--group=0', '--transform', `s,^,usr/local/bin/,`, '-C', join(binary, '..'), basename(binary)]);
    const changes = ['ENV PATH=/usr/local/bin:/usr/bin:/bin', ...(entrypoint === undefined ? [] : [`ENTRYPOINT ["${entrypoint}"]`])];
    await run(engine.client, ['import', ...changes.flatMap((change) => ['-c', change]), tarball, image], { env: dockerEnv(engine) });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The node's base image with `binary` in /usr/local/bin and no entrypoint of its own. */
async function derivedImage(engine: DockerEngine, baseImage: string, image: string, binary?: string): Promise<void> {
  const lines = [`FROM ${baseImage}`, 'ENTRYPOINT []', 'CMD ["/bin/sh"]'];
  await classicBuild(engine, image, lines, binary === undefined ? [] : [binary], (name) => `COPY ${name} /usr/local/bin/${name}`);
}

/**
 * A `docker build` with the classic builder: it uses local images as they are, where
 * BuildKit may try to resolve a `FROM` image in a registry. Adds `files` to the context.
 */
export async function classicBuild(
  engine: DockerEngine,
  image: string,
  dockerfile: string[],
  files: string[] = [],
  copyLine?: (name: string) => string,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'chatcluster-build-'));
  try {
    for (const file of files) copyFileSync(file, join(dir, basename(file)));
    const lines = [...dockerfile, ...(copyLine === undefined ? [] : files.map((file) => copyLine(basename(file))))];
    writeFileSync(join(dir, 'Dockerfile'), `${lines.join('\n')}\n`);
    await run(engine.client, ['build', '-q', '-t', image, dir], { env: { ...dockerEnv(engine), DOCKER_BUILDKIT: '0' } });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
