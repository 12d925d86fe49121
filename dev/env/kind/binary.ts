import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cached } from '../cache.js';
import { goBuild, goModDownload } from '../gobuild.js';
import { cacheDir, versions } from '../versions.js';

const KIND_MODULE = fileURLToPath(new URL('../go/kind/', import.meta.url));

/** Builds kind from its Go module (once, cached by version); resolves with the binary's path. */
export async function provisionKind(): Promise<string> {
  const dir = await cached(cacheDir('kind', versions.kind), (staging) =>
    goBuild({
      what: `kind v${versions.kind}`,
      moduleDir: KIND_MODULE,
      packages: ['sigs.k8s.io/kind'],
      outDir: join(staging, 'bin'),
      ldflags: '-s -w',
    }),
  );
  return join(dir, 'bin', 'kind');
}

/** The kind module's folder in the Go module cache: its node image's base files are read from there. */
export function kindModuleDir(): Promise<string> {
  return goModDownload(KIND_MODULE, `sigs.k8s.io/kind@v${versions.kind}`);
}
