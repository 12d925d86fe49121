import { randomBytes } from 'node:crypto';
import { ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { TestEnvironment } from './env.js';

/** The admin kubeconfig of the test control plane. */
export function adminKubeConfig(env: TestEnvironment): KubeConfig {
  const config = new KubeConfig();
  config.loadFromFile(env.KUBECONFIG);
  return config;
}

/**
 * A kubeconfig for the same API server with other credentials: a bearer token, or none
 * at all (an anonymous client). TLS still verifies the server against the cluster CA.
 */
export function kubeConfigWithToken(admin: KubeConfig, token?: string): KubeConfig {
  const cluster = admin.getCurrentCluster();
  if (cluster === null) throw new Error('the admin kubeconfig has no current cluster');
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [cluster],
    users: [token === undefined ? { name: 'anonymous' } : { name: 'token', token }],
    contexts: [{ name: 'test', cluster: cluster.name, user: token === undefined ? 'anonymous' : 'token' }],
    currentContext: 'test',
  });
  return config;
}

/** Creates a namespace of a test's own; `delete` removes it (and, by cascade, what is in it). */
export async function createTestNamespace(config: KubeConfig, prefix = 'test'): Promise<{ name: string; delete(): Promise<void> }> {
  const core = config.makeApiClient(CoreV1Api);
  const name = `${prefix}-${randomBytes(4).toString('hex')}`;
  await core.createNamespace({ body: { metadata: { name } } });
  return {
    name,
    async delete() {
      await core.deleteNamespace({ name });
    },
  };
}

/** The HTTP status of a failed API call, or undefined when it did not fail with one. */
export async function statusOfFailure(call: Promise<unknown>): Promise<number | undefined> {
  try {
    await call;
    return undefined;
  } catch (error) {
    if (error instanceof ApiException) return error.code;
    throw error;
  }
}
