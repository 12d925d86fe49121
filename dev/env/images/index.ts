/**
 * Every image the kind e2e suite runs, built or found without any container registry:
 * the project's node and operator images (its Dockerfile), and the managed Redis and
 * Cassandra images under the names the operator deploys. Where a registry is reachable,
 * the official Node.js, Redis and Cassandra images are used instead of local stand-ins.
 */
import type { DockerEngine } from '../docker/engine.js';
import { say } from '../progress.js';
import { cassandraImage } from './cassandra-image.js';
import { imageSize } from './engine-images.js';
import { nodeBaseImage } from './node-base.js';
import { buildProjectTarget } from './project-images.js';
import { redisImage } from './redis-image.js';

export { PROJECT_IMAGES } from './project-images.js';

/** The image names (tags) to load into the cluster. */
export interface ProjectImages {
  node: string;
  operator: string;
  redis: string;
  cassandra: string;
}

/**
 * Builds (or reuses) the four images on `engine`. One at a time: the machine's cores are
 * shared, and BuildKit reuses the Dockerfile's build stage for the second target.
 */
export async function buildProjectImages(engine: DockerEngine): Promise<ProjectImages> {
  const nodeImage = await nodeBaseImage(engine);
  const images: ProjectImages = {
    node: await buildProjectTarget(engine, 'node', nodeImage),
    operator: await buildProjectTarget(engine, 'operator', nodeImage),
    redis: (await redisImage(engine)).image,
    cassandra: (await cassandraImage(engine)).image,
  };
  const sizes = await Promise.all([images.node, images.operator, images.redis, images.cassandra].map(async (image) => `${image} ${Math.round((await imageSize(engine, image)) / 2 ** 20)} MiB`));
  say(`images ready: ${sizes.join(', ')}`);
  return images;
}
