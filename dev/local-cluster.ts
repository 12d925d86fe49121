/**
 * `npm start`: ChatCluster on this machine. Three chat nodes behind a least-connections
 * load balancer, on a real Redis and Cassandra from the test environment; or, with
 * `--embedded` (or when Java or Maven for Cassandra are missing), one self-contained node.
 * Prints where to connect, one ready web-client link per demo user and how to get a token;
 * Ctrl-C stops everything it started.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { mintToken } from '../node/auth/tokens.js';
import { buildWebClient } from '../web/build/bundle.js';
import { migrate, startNode, stopNode, type NodeProcess } from './node-processes.js';
import { exportsOf, startParts, stopEnvironment, type EnvironmentState } from './env/environment.js';
import { EnvError } from './env/errors.js';
import { LoadBalancer } from './env/load-balancer.js';
import { freePort } from './env/ports.js';
import { say } from './env/progress.js';
import { findCommand } from './env/tools.js';

/** Who the printed web-client links sign in as. */
const DEMO_USERS = ['alice', 'bob', 'carol'];
const DEMO_TOKEN_SECONDS = 24 * 3600;

const { values } = parseArgs({
  options: {
    embedded: { type: 'boolean', default: false },
    nodes: { type: 'string', default: '3' },
    port: { type: 'string', default: '8080' },
  },
});

/** Why the cluster cannot run here (and the embedded node must do), or undefined. */
function missingForCluster(): string | undefined {
  const missing = ['java', 'mvn'].filter((tool) => findCommand(tool) === undefined);
  return missing.length === 0 ? undefined : `${missing.join(' and ')} not found (Cassandra needs Java 11/17 and Maven)`;
}

async function availablePort(wanted: number): Promise<number> {
  const probe = new LoadBalancer([]);
  try {
    await probe.listen(wanted);
    return wanted;
  } catch {
    return await freePort();
  } finally {
    probe.close();
  }
}

async function main(): Promise<void> {
  const secret = process.env.CHAT_JWT_SECRET ?? randomBytes(24).toString('hex');
  const nodeCount = Number(values.nodes);
  if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > 9) throw new EnvError('--nodes takes 1 to 9');
  const missing = values.embedded ? undefined : missingForCluster();
  if (missing !== undefined) say(`${missing}: starting the embedded single node instead`);
  const embedded = values.embedded || missing !== undefined;

  let environment: EnvironmentState | undefined;
  const nodes: NodeProcess[] = [];
  /** Set once the nodes are up; Ctrl-C may come before. */
  const running: { balancer?: LoadBalancer } = {};
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    say('stopping…');
    running.balancer?.close();
    await Promise.all(nodes.map((node) => stopNode(node)));
    if (environment !== undefined) await stopEnvironment(environment);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());

  // The nodes serve the web client from dist/web: build it unless it is up to date.
  await buildWebClient({ ifStale: true });
  const baseEnv: NodeJS.ProcessEnv = { ...process.env, CHAT_JWT_SECRET: secret, CHAT_DRAIN_SPREAD_MS: '1000', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' };
  if (embedded) {
    delete baseEnv.CHAT_REDIS_URL;
    delete baseEnv.CHAT_CASSANDRA_CONTACT_POINTS;
    nodes.push(await startNode(baseEnv, 'embedded'));
  } else {
    environment = await startParts(['redis', 'cassandra'], mkdtempSync(join(tmpdir(), 'chatcluster-local-')), { ownerPid: process.pid });
    const env = { ...baseEnv, ...exportsOf(environment).variables, CHAT_CASSANDRA_KEYSPACE: 'chat' };
    await migrate(env);
    nodes.push(...(await Promise.all(Array.from({ length: nodeCount }, (_, index) => startNode(env, `local-${index}`)))));
  }
  // One address in both modes (--port, 8080 unless taken), so what the README says works either way.
  const balancer = new LoadBalancer(nodes.map((node) => ({ host: '127.0.0.1', port: Number(new URL(node.url).port), readyUrl: `${node.url}/readyz` })));
  running.balancer = balancer;
  const url = `http://127.0.0.1:${String(await balancer.listen(await availablePort(Number(values.port))))}`;

  const wsUrl = url.replace(/^http/, 'ws');
  // Each demo user's link is another node's own address, so two windows chat across nodes
  // (through the load balancer both pages may well land on one node). A token in the
  // fragment (#token=) never reaches a server: the page reads it and drops it.
  const links = await Promise.all(
    DEMO_USERS.map(async (user, index) => {
      const node = embedded ? undefined : nodes[index % nodes.length];
      return `  ${user.padEnd(6)} ${node?.url ?? url}/#token=${await mintToken(secret, user, DEMO_TOKEN_SECONDS)}`;
    }),
  );
  const lines = [
    '',
    embedded
      ? 'ChatCluster is running as one embedded node (in-process bus and store: nothing is kept when it stops).'
      : `ChatCluster is running: ${nodeCount} chat nodes behind a least-connections load balancer, on Redis and Cassandra.`,
    `  WebSocket  ${wsUrl}/ws        HTTP API  ${url}/v1`,
    ...nodes.map((node) => `  node ${node.id.padEnd(10)} ${node.url}   admin ${node.adminUrl} (/metrics, /load)`),
    '',
    embedded
      ? 'Chat in a browser: open two of these links in two windows (each signs in as that user, for 24 h):'
      : 'Chat in a browser across nodes: open two of these links in two windows (each signs in as that user, for 24 h, on a node of its own):',
    ...links,
    ...(embedded ? [] : [`  (the same /#token=… on ${url} goes through the load balancer: a page then moves when its node leaves)`]),
    '',
    'Try it from another terminal:',
    `  export CHAT_JWT_SECRET=${secret} CHAT_URL=${wsUrl}`,
    '  npm run -s chat -- listen --user bob                # bob’s frames, across reconnects',
    '  npm run -s chat -- send user:bob "hello" --user alice',
    '  npm run -s chat -- group create team --user alice',
    '  npm run -s chat -- sync --user bob --cursor-file bob.cursor   # what bob missed; the next run resumes from there',
    '  npm run -s chat -- token alice                      # a token for your own client (?token=… or Bearer)',
    '',
    'Stop everything with Ctrl-C.',
    '',
  ];
  process.stdout.write(lines.join('\n'));
}

main().catch((error: unknown) => {
  say(`error: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
