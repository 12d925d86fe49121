import { fileURLToPath } from 'node:url';
import { run } from '../process.js';
import { slowStep } from '../progress.js';
import type { ProjectImages } from './project-images.js';

export const OPERATOR_CHART = fileURLToPath(new URL('../../../charts/chatcluster-operator/', import.meta.url));
export const OPERATOR_RELEASE = 'chatcluster';
export const OPERATOR_NAMESPACE = 'chatcluster-system';

/** Splits `repository:tag` (a registry host may carry a port, so the last colon after the last slash). */
export function splitImage(image: string): { repository: string; tag: string } {
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  if (colon <= slash) return { repository: image, tag: 'latest' };
  return { repository: image.slice(0, colon), tag: image.slice(colon + 1) };
}

/** `helm upgrade --install`s the operator chart with the project's images, never pulled (they were loaded into the node). */
export async function installOperator(helm: string, kubeconfig: string, images: ProjectImages): Promise<void> {
  const operator = splitImage(images.operator);
  const node = splitImage(images.node);
  await slowStep(`helm install ${OPERATOR_RELEASE} (the operator chart)`, () =>
    run(helm, [
      'upgrade', '--install', OPERATOR_RELEASE, OPERATOR_CHART,
      '--kubeconfig', kubeconfig,
      '--namespace', OPERATOR_NAMESPACE, '--create-namespace',
      '--set', `image.repository=${operator.repository}`, '--set', `image.tag=${operator.tag}`,
      '--set', 'image.pullPolicy=Never',
      '--set', `nodeImage.repository=${node.repository}`, '--set', `nodeImage.tag=${node.tag}`,
      '--wait', '--timeout', '5m',
    ]),
  );
}
