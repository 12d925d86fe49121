import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cached } from './cache.js';
import { goBuild } from './gobuild.js';
import { cacheDir } from './versions.js';

/** The Centrifugo release go/centrifugo/go.mod pins: a peer the benchmark measures the chat cluster against. */
export const CENTRIFUGO_VERSION = '6.9.1';

/** Builds the centrifugo server (once, cached by version); resolves with its path. */
export async function provisionCentrifugo(): Promise<string> {
  const dir = await cached(cacheDir('centrifugo', CENTRIFUGO_VERSION), (staging) =>
    goBuild({
      what: `Centrifugo v${CENTRIFUGO_VERSION}`,
      moduleDir: fileURLToPath(new URL('go/centrifugo/', import.meta.url)),
      packages: ['github.com/centrifugal/centrifugo/v6'],
      outDir: join(staging, 'bin'),
      // As Centrifugo's release build does, so `centrifugo version` names the release; the
      // usage-stats endpoint stays unset (its default), so the binary reports nowhere.
      ldflags: `-s -w -X github.com/centrifugal/centrifugo/v6/internal/build.Version=${CENTRIFUGO_VERSION}`,
    }),
  );
  return join(dir, 'bin', 'centrifugo');
}
