import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cached } from '../../cache.js';
import { docker, dockerEnv, type DockerEngine } from '../../docker/engine.js';
import { provisionKubernetes, provisionKubernetesNode } from '../../kubernetes/binaries.js';
import { run } from '../../process.js';
import { say, slowStep } from '../../progress.js';
import { cacheDir, cacheRoot, versions } from '../../versions.js';
import { kindModuleDir } from '../binary.js';
import { TEST_ENV_LABEL } from '../cluster.js';
import { provisionCoredns, provisionCrictl, provisionLocalPathProvisioner, provisionPause } from './components.js';
import { classicBuild, kindStorage, makePreloadImages, NODE_ENTRYPOINT, type PreloadBinaries } from './images.js';
import { DEBIAN_SUITE, debootstrapNodeBase, makeNodeRootfs, NODE_PACKAGES } from './rootfs.js';

/** Where locally assembled node images are tagged; never pushed anywhere. */
const LOCAL_REPOSITORY = 'chatcluster.local/kind-node';
const THIS_FOLDER = fileURLToPath(new URL('./', import.meta.url));

/**
 * A kind node image assembled on this machine from Debian packages and Go modules, for
 * where the official one cannot be pulled (KIND.md). Built once per content key (the
 * pinned versions and this folder's sources) and kept as a tarball in the cache, so a
 * fresh Docker engine gets it with `docker load` in seconds. Resolves with its tag.
 */
export async function provisionLocalNodeImage(engine: DockerEngine): Promise<string> {
  const key = contentKey();
  const image = `${LOCAL_REPOSITORY}:v${versions.kubernetes}-${key}`;
  if (await hasImage(engine, image)) return image;
  const dir = await cached(cacheDir('kind-node-image', `${versions.kubernetes}-${key}`), (staging) =>
    buildNodeImage(engine, image, staging),
  );
  if (!(await hasImage(engine, image))) {
    await slowStep(`kind node image: docker load ${image}`, () => docker(engine, ['load', '-q', '-i', join(dir, 'image.tar')]));
  }
  await pruneOtherNodeImages(engine, image, dir);
  return image;
}

/** Removes node images of earlier recipes from the cache and the engine: each is over a gigabyte. */
async function pruneOtherNodeImages(engine: DockerEngine, image: string, dir: string): Promise<void> {
  const current = basename(dir);
  for (const entry of readdirSync(cacheRoot())) {
    if (entry.startsWith('kind-node-image-v') && entry !== current && !/\.(lock|partial)$/.test(entry)) {
      rmSync(join(cacheRoot(), entry), { recursive: true, force: true });
    }
  }
  const listed = await docker(engine, ['images', '--format', '{{.Repository}}:{{.Tag}}', LOCAL_REPOSITORY]);
  const stale = listed.split('\n').filter((line) => line !== '' && line !== image);
  // An image a running cluster still uses stays; `docker rmi` refuses it.
  for (const old of stale) await docker(engine, ['rmi', old]).catch(() => undefined);
}

/** The sources that decide what the image holds (choosing between images does not). */
const RECIPE = ['components.ts', 'images.ts', 'local-build.ts', 'rootfs.ts'];

/** Changes whenever a pinned version or how the image is made changes. */
function contentKey(): string {
  const hash = createHash('sha256').update(JSON.stringify({ versions, NODE_PACKAGES, DEBIAN_SUITE }));
  for (const name of RECIPE) {
    hash.update(name).update(readFileSync(join(THIS_FOLDER, name)));
  }
  return hash.digest('hex').slice(0, 12);
}

async function hasImage(engine: DockerEngine, image: string): Promise<boolean> {
  return docker(engine, ['image', 'inspect', '--format', '{{.Id}}', image]).then(
    () => true,
    () => false,
  );
}

/** The Debian root filesystem (debootstrap is the slow, network-bound part), cached as a tarball by package list. */
export async function debianBaseTarball(): Promise<string> {
  const key = createHash('sha256').update(JSON.stringify({ DEBIAN_SUITE, NODE_PACKAGES })).digest('hex').slice(0, 12);
  const dir = await cached(cacheDir(`kind-node-${DEBIAN_SUITE}`, key), async (staging) => {
    const rootfs = join(staging, 'rootfs');
    await debootstrapNodeBase(rootfs);
    await run('tar', ['-C', rootfs, '--numeric-owner', '-c', '-f', join(staging, 'rootfs.tar'), '.']);
    rmSync(rootfs, { recursive: true, force: true });
  });
  return join(dir, 'rootfs.tar');
}

async function buildNodeImage(engine: DockerEngine, image: string, staging: string): Promise<void> {
  const started = Date.now();
  // One Go build at a time: they share two cores with everything else.
  const kubernetes = await provisionKubernetes();
  const node = await provisionKubernetesNode();
  const coredns = await provisionCoredns();
  const localPathProvisioner = await provisionLocalPathProvisioner();
  const pause = await provisionPause();
  const crictl = await provisionCrictl();
  const kindModule = await kindModuleDir();
  const storage = kindStorage(kindModule);
  const debianBase = await debianBaseTarball();

  const baseImage = `${image}-base`;
  await slowStep('kind node image: root filesystem', async () => {
    const rootfs = join(staging, 'rootfs');
    mkdirSync(rootfs);
    await run('tar', ['-C', rootfs, '--numeric-owner', '-x', '-f', debianBase]);
    await makeNodeRootfs(rootfs, {
      kindModule,
      kubeadm: node.kubeadm,
      kubelet: node.kubelet,
      kubectl: kubernetes.kubectl,
      crictl,
    });
    mkdirSync(join(rootfs, 'kind/manifests'), { recursive: true });
    writeFileSync(join(rootfs, 'kind/manifests/default-storage.yaml'), storage.manifest);
    const tarball = join(staging, 'rootfs.tar');
    await run('tar', ['-C', rootfs, '--numeric-owner', '-c', '-f', tarball, '.']);
    rmSync(rootfs, { recursive: true, force: true });
    await docker(engine, ['import', '-c', 'ENV container=docker', '-c', `ENTRYPOINT ${NODE_ENTRYPOINT}`, tarball, baseImage]);
    rmSync(tarball);
  });

  const binaries: PreloadBinaries = {
    kubeApiserver: kubernetes.kubeApiserver,
    kubeControllerManager: kubernetes.kubeControllerManager,
    kubeScheduler: kubernetes.kubeScheduler,
    kubeProxy: node['kube-proxy'],
    etcd: kubernetes.etcd,
    coredns,
    pause,
    localPathProvisioner,
  };
  const preload = await slowStep('kind node image: preloaded images', () => makePreloadImages(engine, baseImage, binaries, storage));
  await slowStep('kind node image: importing them into the node\'s containerd', () =>
    preloadIntoContainerd(engine, baseImage, image, preload, staging),
  );
  await docker(engine, ['rmi', ...preload, baseImage]).catch(() => undefined);
  await slowStep('kind node image: saving it to the cache', () => docker(engine, ['save', '-o', join(staging, 'image.tar'), image]));
  say(`kind node image ${image} assembled in ${Math.round((Date.now() - started) / 1000)}s`);
}

/**
 * Starts containerd in a container of the base image, imports the images there (pinned,
 * as kind's own build does, so the kubelet never collects them), and commits the result
 * with the node's entrypoint and stop signal.
 */
async function preloadIntoContainerd(engine: DockerEngine, baseImage: string, image: string, preload: string[], staging: string): Promise<void> {
  const builder = `chatcluster-kind-node-build-${process.pid}`;
  const archive = join(staging, 'preload.tar');
  await docker(engine, ['save', '-o', archive, ...preload]);
  await docker(engine, ['run', '-d', '--privileged', '--name', builder, '--label', TEST_ENV_LABEL, '--entrypoint', 'sleep', baseImage, 'infinity']);
  try {
    await docker(engine, ['cp', archive, `${builder}:/preload.tar`]);
    rmSync(archive);
    await docker(engine, ['exec', builder, 'sh', '-c', 'containerd >/tmp/containerd.log 2>&1 &']);
    await waitFor(() => docker(engine, ['exec', builder, 'ctr', 'version']), 30_000, 'containerd in the node image build');
    await docker(engine, [
      'exec', builder, 'ctr', '-n', 'k8s.io', 'images', 'import',
      '--label=io.cri-containerd.pinned=pinned', '--all-platforms', '--no-unpack', '/preload.tar',
    ]);
    await docker(engine, ['exec', builder, 'sh', '-c', 'kill $(pidof containerd); while pidof containerd >/dev/null; do sleep 0.2; done; rm -f /preload.tar /tmp/containerd.log']);
    const committed = `${image}-preloaded`;
    await docker(engine, ['commit', builder, committed]);
    // `docker commit` and `import` take no STOPSIGNAL; systemd stops on SIGRTMIN+3.
    await classicBuild(engine, image, [`FROM ${committed}`, 'ENV container=docker', 'STOPSIGNAL SIGRTMIN+3', `ENTRYPOINT ${NODE_ENTRYPOINT}`]);
    await docker(engine, ['rmi', committed]).catch(() => undefined);
  } finally {
    await run(engine.client, ['rm', '-f', builder], { env: dockerEnv(engine) }).catch(() => undefined);
  }
}

async function waitFor(attempt: () => Promise<unknown>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await attempt();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what} did not answer in ${timeoutMs / 1000}s: ${String(error)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}
