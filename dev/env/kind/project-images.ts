import type { DockerEngine } from '../docker/engine.js';
import { buildProjectImages } from '../images/index.js';

/** The images the cluster needs from this project, as built into `engine`. */
export interface ProjectImages {
  /** `--target operator` of the Dockerfile. */
  operator: string;
  /** `--target node` of the Dockerfile. */
  node: string;
  /** The managed Redis and Cassandra images, under the names the operator deploys. */
  extra: string[];
}

/** Builds (or reuses) them with the images part of the environment (dev/env/images). */
export async function provideProjectImages(engine: DockerEngine): Promise<ProjectImages> {
  const images = await buildProjectImages(engine);
  return { operator: images.operator, node: images.node, extra: [images.redis, images.cassandra] };
}
