import type { DockerEngine } from '../docker/engine.js';
import { EnvError } from '../errors.js';

/** The project's two images, as built from its Dockerfile into `engine`. */
export interface ProjectImages {
  /** `--target operator`, e.g. `chatcluster/chatcluster-operator:e2e`. */
  operator: string;
  /** `--target node`, e.g. `chatcluster/chat-node:e2e`. */
  node: string;
  /** Every other image the cluster needs without a registry (the managed Redis and Cassandra substitutes). */
  extra: string[];
}

/**
 * SEAM: the project's images come from test/env/images/ (built there with the project's
 * Dockerfile, a local Node.js base where no registry is reachable). Until that part
 * exports a function building them, this fails loudly, after the cluster is up.
 */
export function provideProjectImages(_engine: DockerEngine): Promise<ProjectImages> {
  return Promise.reject(
    new EnvError(
      'the project images are not built yet: test/env/images/ has no function building the node and operator images to call',
      'wire test/env/kind/project-images.ts (provideProjectImages) to the images part, or run `npm run -s kind:up -- --cluster-only`',
    ),
  );
}
