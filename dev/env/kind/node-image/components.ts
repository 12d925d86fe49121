import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cached } from '../../cache.js';
import { goBuild, goModDownload } from '../../gobuild.js';
import { run } from '../../process.js';
import { slowStep } from '../../progress.js';
import { ensureDebianPackage } from '../../tools.js';
import { cacheDir, versions } from '../../versions.js';

const GO_MODULES = fileURLToPath(new URL('../../go/', import.meta.url));

/** CoreDNS, the cluster DNS kubeadm deploys, built from its Go module (once, cached by version). */
export async function provisionCoredns(): Promise<string> {
  const dir = await cached(cacheDir('coredns', versions.coredns), (staging) =>
    goBuild({
      what: `CoreDNS v${versions.coredns}`,
      moduleDir: join(GO_MODULES, 'coredns'),
      packages: ['github.com/coredns/coredns'],
      outDir: join(staging, 'bin'),
      ldflags: '-s -w',
    }),
  );
  return join(dir, 'bin', 'coredns');
}

/** Rancher's local-path-provisioner, kind's default StorageClass, from its Go module (once, cached). */
export async function provisionLocalPathProvisioner(): Promise<string> {
  const dir = await cached(cacheDir('local-path-provisioner', versions.localPathProvisioner), (staging) =>
    goBuild({
      what: `local-path-provisioner v${versions.localPathProvisioner}`,
      moduleDir: join(GO_MODULES, 'local-path-provisioner'),
      packages: ['github.com/rancher/local-path-provisioner'],
      outDir: join(staging, 'bin'),
      ldflags: '-s -w',
    }),
  );
  return join(dir, 'bin', 'local-path-provisioner');
}

/** crictl, the CRI client kind runs in its nodes (`kind load` skips images the node has), from its Go module. */
export async function provisionCrictl(): Promise<string> {
  const dir = await cached(cacheDir('crictl', versions.crictl), (staging) =>
    goBuild({
      what: `crictl v${versions.crictl}`,
      moduleDir: join(GO_MODULES, 'crictl'),
      packages: ['sigs.k8s.io/cri-tools/cmd/crictl'],
      outDir: join(staging, 'bin'),
      ldflags: `-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=v${versions.crictl}`,
    }),
  );
  return join(dir, 'bin', 'crictl');
}

/**
 * The pod sandbox's pause process, compiled statically from the C source the Kubernetes
 * module ships (build/pause/linux/pause.c), as the official pause image is.
 */
export async function provisionPause(): Promise<string> {
  const dir = await cached(cacheDir('pause', versions.pause), async (staging) => {
    const gcc = await ensureDebianPackage('gcc', 'gcc');
    const kubernetes = await goModDownload(join(GO_MODULES, 'kubernetes'), `k8s.io/kubernetes@v${versions.kubernetes}`);
    const source = join(kubernetes, 'build', 'pause', 'linux', 'pause.c');
    await slowStep(`pause ${versions.pause}: compiling`, () =>
      run(gcc, ['-Os', '-Wall', '-Werror', '-static', '-DVERSION=v' + versions.pause, '-o', join(staging, 'pause'), source], {
        remedy: "install Debian's gcc and libc6-dev (sudo apt-get install gcc libc6-dev)",
      }),
    );
  });
  return join(dir, 'pause');
}
