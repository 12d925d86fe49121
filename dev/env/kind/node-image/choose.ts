import { docker, dockerEnv, type DockerEngine } from '../../docker/engine.js';
import { EnvError } from '../../errors.js';
import { run } from '../../process.js';
import { say, slowStep } from '../../progress.js';
import { versions } from '../../versions.js';
import { provisionLocalNodeImage } from './local-build.js';

/** The official kind node image of the pinned Kubernetes release, where it can be pulled. */
export const OFFICIAL_NODE_IMAGE = `kindest/node:v${versions.kubernetes}`;

/**
 * Which node image to run, from CHATCLUSTER_KIND_NODE_IMAGE: `official` (pull it or fail),
 * `local` (assemble it here), an image reference (used as it is), or unset: the official
 * image when it can be had, else the local one.
 */
export type NodeImageChoice = { use: 'official-or-local' } | { use: 'official' } | { use: 'local' } | { use: 'given'; image: string };

export function parseNodeImageChoice(value: string | undefined): NodeImageChoice {
  if (value === undefined || value === '' || value === 'auto') return { use: 'official-or-local' };
  if (value === 'official' || value === 'local') return { use: value };
  return { use: 'given', image: value };
}

/** A node image and whether it is the locally assembled one (which needs the static CNI config). */
export interface NodeImage {
  image: string;
  local: boolean;
}

/** The node image the cluster runs, pulling or assembling it as `choice` says. */
export async function provisionNodeImage(engine: DockerEngine, choice: NodeImageChoice): Promise<NodeImage> {
  switch (choice.use) {
    case 'given':
      return { image: choice.image, local: choice.image.startsWith('chatcluster.local/') };
    case 'local':
      return { image: await provisionLocalNodeImage(engine), local: true };
    case 'official':
    case 'official-or-local': {
      const problem = await pullProblem(engine, OFFICIAL_NODE_IMAGE);
      switch (afterPull(choice, problem === undefined)) {
        case 'official':
          return { image: OFFICIAL_NODE_IMAGE, local: false };
        case 'fail':
          throw new EnvError(`cannot pull ${OFFICIAL_NODE_IMAGE}: ${problem ?? ''}`, 'reach Docker Hub, or unset CHATCLUSTER_KIND_NODE_IMAGE to assemble a node image locally');
        case 'local':
          say(`${OFFICIAL_NODE_IMAGE} cannot be pulled (${problem ?? ''}): using a node image assembled here`);
          return { image: await provisionLocalNodeImage(engine), local: true };
      }
    }
  }
}

/** Once it is known whether the official image could be had: run it, fail, or assemble one here. */
export function afterPull(choice: { use: 'official' | 'official-or-local' }, pulled: boolean): 'official' | 'local' | 'fail' {
  if (pulled) return 'official';
  return choice.use === 'official' ? 'fail' : 'local';
}

/** Why `image` is neither present nor pullable, or undefined when it is there now. */
async function pullProblem(engine: DockerEngine, image: string): Promise<string | undefined> {
  const present = await docker(engine, ['image', 'inspect', '--format', '{{.Id}}', image]).then(
    () => true,
    () => false,
  );
  if (present) return undefined;
  try {
    // `timeout`: where no registry is reachable a pull may hang rather than fail.
    await slowStep(`docker pull ${image}`, () => run('timeout', ['300', engine.client, 'pull', '-q', image], { env: dockerEnv(engine) }));
    return undefined;
  } catch (error) {
    return error instanceof Error ? (error.message.split('\n').filter((line) => line.trim() !== '').at(-1) ?? 'failed') : String(error);
  }
}
