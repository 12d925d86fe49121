import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cached } from './cache.js';
import { goBuild } from './gobuild.js';
import { cacheDir, versions } from './versions.js';

/** The Kubernetes version of the client-go in go/helm/go.mod (v0.37.0). */
const HELM_KUBERNETES_VERSION = '1.37';

/** Builds the helm CLI (once, cached by version); resolves with its path. */
export async function provisionHelm(): Promise<string> {
  // The build flags are part of the key: a build without the Kubernetes version stamped (below) is another build.
  const dir = await cached(cacheDir('helm', `${versions.helm}-k8s${HELM_KUBERNETES_VERSION}`), (staging) =>
    goBuild({
      what: `Helm v${versions.helm}`,
      moduleDir: fileURLToPath(new URL('go/helm/', import.meta.url)),
      packages: ['helm.sh/helm/v3/cmd/helm'],
      outDir: join(staging, 'bin'),
      // Helm reports the version stamped here (`helm version`). As Helm's own Makefile does, the
      // Kubernetes version that `helm template` and `helm lint` assume is stamped too (from the
      // client-go it is built with, v0.37 → 1.37); unstamped it is 1.20, and charts that need
      // newer (kubeVersion) fail to render.
      ldflags: [
        '-s -w',
        `-X helm.sh/helm/v3/internal/version.version=v${versions.helm}`,
        '-X helm.sh/helm/v3/internal/version.gitTreeState=clean',
        ...['helm.sh/helm/v3/pkg/chartutil', 'helm.sh/helm/v3/pkg/lint/rules'].flatMap((pkg) => {
          const [major, minor] = HELM_KUBERNETES_VERSION.split('.');
          return [`-X ${pkg}.k8sVersionMajor=${major ?? ''}`, `-X ${pkg}.k8sVersionMinor=${minor ?? ''}`];
        }),
      ].join(' '),
    }),
  );
  return join(dir, 'bin', 'helm');
}
