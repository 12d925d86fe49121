import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cached } from './cache.js';
import { goBuild } from './gobuild.js';
import { cacheDir, versions } from './versions.js';

/** Builds the helm CLI (once, cached by version); resolves with its path. */
export async function provisionHelm(): Promise<string> {
  const dir = await cached(cacheDir('helm', versions.helm), (staging) =>
    goBuild({
      what: `Helm v${versions.helm}`,
      moduleDir: fileURLToPath(new URL('go/helm/', import.meta.url)),
      packages: ['helm.sh/helm/v3/cmd/helm'],
      outDir: join(staging, 'bin'),
      // Helm reports the version stamped here (`helm version`).
      ldflags: `-s -w -X helm.sh/helm/v3/internal/version.version=v${versions.helm} -X helm.sh/helm/v3/internal/version.gitTreeState=clean`,
    }),
  );
  return join(dir, 'bin', 'helm');
}
