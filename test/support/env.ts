import { delimiter } from 'node:path';
import { inject } from 'vitest';
import { z } from 'zod';

const TestEnvironment = z.object({
  CHAT_REDIS_URL: z.string().startsWith('redis://'),
  /** The same bus behind Sentinel (a primary, two replicas, three sentinels) and on a Redis Cluster (three masters). */
  CHAT_REDIS_SENTINEL_URL: z.string().startsWith('redis+sentinel://'),
  CHAT_REDIS_CLUSTER_URL: z.string().startsWith('redis+cluster://'),
  CHAT_CASSANDRA_CONTACT_POINTS: z.string().min(1),
  CHAT_CASSANDRA_DC: z.string().min(1),
  /** The `tls` part: the run's CA, a certificate for 127.0.0.1 it signed, and a Redis and a Cassandra that speak TLS only. */
  CHAT_TEST_CA_FILE: z.string().min(1),
  CHAT_TEST_CERT_FILE: z.string().min(1),
  CHAT_TEST_KEY_FILE: z.string().min(1),
  CHAT_REDIS_TLS_URL: z.string().startsWith('rediss://'),
  /** A sentinel on TLS only watching that Redis. */
  CHAT_REDIS_SENTINEL_TLS_URL: z.string().startsWith('rediss+sentinel://'),
  CHAT_CASSANDRA_TLS_CONTACT_POINTS: z.string().min(1),
  /** The login that Cassandra asks for (PasswordAuthenticator). */
  CHAT_CASSANDRA_TLS_USERNAME: z.string().min(1),
  CHAT_CASSANDRA_TLS_PASSWORD: z.string().min(1),
  KUBECONFIG: z.string().min(1),
  /** libfaketime, preloaded into a node whose clock a test shifts. */
  FAKETIME_LIBRARY: z.string().min(1),
  /** Chromium, for the web client's browser tests. */
  CHROMIUM_BIN: z.string().min(1),
});

/** The running test environment's addresses, as the global setup handed them over. */
export type TestEnvironment = z.infer<typeof TestEnvironment> & {
  /** `process.env` plus these variables and a PATH with kubectl and helm first, for child processes. */
  processEnv: NodeJS.ProcessEnv;
};

/**
 * The environment of the integration tests. Throws, failing the test, when the global
 * setup did not provide a part: a missing server is an error, never a skip.
 */
export function testEnvironment(): TestEnvironment {
  const provided = inject('testEnv');
  const variables = TestEnvironment.parse(provided.variables);
  const path = [...provided.pathDirs, process.env.PATH ?? ''].join(delimiter);
  return { ...variables, processEnv: { ...process.env, ...provided.variables, PATH: path } };
}
