/**
 * The project's own images, `--target node` and `--target operator` of its Dockerfile, built
 * by the engine with BuildKit, on the Node.js base this machine can have (node-base.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RELEASED_NODE_IMAGE } from '../../../operator/config.js';
import type { DockerEngine } from '../docker/engine.js';
import { slowStep } from '../progress.js';
import { buildImage } from './engine-images.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const VERSION = (JSON.parse(readFileSync(`${REPO_ROOT}package.json`, 'utf8')) as { version: string }).version;

/** The names the chart and the operator use by default. */
export const PROJECT_IMAGES = {
  node: RELEASED_NODE_IMAGE,
  operator: `chatcluster/chatcluster-operator:${VERSION}`,
} as const;

/**
 * The CA bundle the host trusts, handed to `npm ci` as the BuildKit secret `ca`: behind a
 * TLS-inspecting proxy (as on this machine) the registry's certificate is signed by a CA
 * only the host knows. Harmless where there is none: the bundle holds the public CAs too.
 */
export function hostCaBundle(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return [env.NODE_EXTRA_CA_CERTS, '/etc/ssl/certs/ca-certificates.crt'].find((path): path is string => path !== undefined && path !== '' && existsSync(path));
}

/** Builds one target of the Dockerfile, tagged `tag`, on `nodeImage`. */
export async function buildProjectTarget(engine: DockerEngine, target: keyof typeof PROJECT_IMAGES, nodeImage: string, tag: string = PROJECT_IMAGES[target]): Promise<string> {
  const ca = hostCaBundle();
  let lastLine: string | undefined;
  await slowStep(
    `docker build --target ${target} (${tag}, on ${nodeImage})`,
    () =>
      buildImage(
        engine,
        { context: REPO_ROOT, target, tag, buildArgs: { NODE_IMAGE: nodeImage }, ...(ca === undefined ? {} : { secrets: { ca } }) },
        (line) => { if (/^#\d+ \[/.test(line)) lastLine = line.slice(0, 100); },
      ),
    () => lastLine,
  );
  return tag;
}
