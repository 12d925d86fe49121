import type { ChatCluster } from '../../common/chatcluster.js';
import { setOwnTimerSlack } from '../../common/timer-slack.js';
import { cassandraTlsSetupScript, managedCassandraTls } from './cassandra-tls.js';

/** What the image runs when the container names no command; every start script ends handing over to it. */
export const CASSANDRA_IMAGE_START = 'exec docker-entrypoint.sh cassandra -f';

/**
 * The managed Cassandra container's command: the image's own (undefined) when nothing has
 * to happen first; otherwise a shell that sets the timer slack the spec asks for (the JVM
 * and its threads inherit it through exec), prepares TLS when the cluster has it, and then
 * hands over to the image's entrypoint.
 */
export function cassandraCommand(cluster: ChatCluster): string[] | undefined {
  const slackMicroseconds = cluster.spec.cassandra.managed?.timerSlackMicroseconds;
  const steps = [
    ...(slackMicroseconds === undefined ? [] : [setOwnTimerSlack(String(slackMicroseconds * 1000), 'Cassandra')]),
    ...(managedCassandraTls(cluster) ? [cassandraTlsSetupScript()] : []),
  ];
  if (steps.length === 0) return undefined;
  return ['/bin/sh', '-c', [...steps, CASSANDRA_IMAGE_START, ''].join('\n')];
}
