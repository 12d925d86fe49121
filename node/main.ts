/**
 * The chat node's entry point.
 *   node dist/node/main.js            serve (the default)
 *   node dist/node/main.js migrate    create the Cassandra keyspace and tables, then exit
 *   node dist/node/main.js reseal     seal every stored message text with the newest at-rest key, then exit
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import { ConfigError } from '../common/env.js';
import { createLogger, type Logger } from '../common/log.js';
import { tokenVerifier } from './auth/tokens.js';
import { openBackends, runMigrations, runReseal } from './backends.js';
import { ChatNode } from './chat/chat-node.js';
import { loadCassandraConfig, loadNodeConfig, type NodeConfig } from './config.js';
import { createAdminServer } from './server/admin-server.js';
import { CpuMeter } from './server/cpu-meter.js';
import { createPublicServer } from './server/public-server.js';

const log = createLogger('chat-node');

async function serve(config: NodeConfig): Promise<void> {
  const backends = await openBackends(config, log);
  const node = new ChatNode({
    nodeId: config.nodeId,
    address: config.advertiseAddress,
    store: backends.store,
    bus: backends.bus,
    log,
    limits: { maxTextBytes: config.maxFrameBytes, messagesPerSecondPerUser: config.messagesPerSecondPerUser },
    dependencyNames: backends.mode === 'cluster' ? { store: 'cassandra', bus: 'redis' } : { store: 'memory-store', bus: 'memory-bus' },
  });
  await node.start();

  const publicServer = createPublicServer({
    node,
    verifier: tokenVerifier(config.auth),
    log,
    maxFrameBytes: config.maxFrameBytes,
    // Sustained abuse: more than 100 bad or rate-limited frames within 10 s.
    socketLimits: { maxBufferedBytes: config.maxBufferedBytes, abuseLimit: 100, abuseWindowMs: 10_000 },
    socketOpening: config.socketOpening,
    tls: config.tls === undefined ? undefined : { files: config.tls },
  });
  let shuttingDown = false;
  const drainAndExit = (reason: string): void => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ reason }, 'draining');
    void (async () => {
      await node.drain(config.drainSpreadMs);
      await node.stop();
      publicServer.close();
      adminServer.close();
      await backends.close();
      log.info('drained; exiting');
      process.exit(0);
    })();
  };
  const cpu = config.cpuRequestMillicores === undefined ? undefined : new CpuMeter({ requestMillicores: config.cpuRequestMillicores });
  cpu?.start();
  const adminServer = createAdminServer(node, cpu, () => {
    drainAndExit('POST /drain');
  });
  await Promise.all([listen(publicServer, config.port, ACCEPT_BACKLOG), listen(adminServer, config.adminPort)]);
  log.info({ node: config.nodeId, port: config.port, adminPort: config.adminPort, mode: backends.mode }, 'chat node serving');
  process.on('SIGTERM', () => {
    drainAndExit('SIGTERM');
  });
  process.on('SIGINT', () => {
    drainAndExit('SIGINT');
  });
}

/**
 * Connections the kernel holds for the public port until the node accepts them. Node's
 * default, 511, is too few for a reconnect storm: a drained node's clients arrive together,
 * thousands within the event loop's first busy second, and each one past the queue has
 * its handshake dropped and retransmitted after 1, 2, 4… s, so it waits many seconds
 * before the node even sees it (in the bench, 1,473 overflows left 10,000 clients with no
 * upgrade for 40 s). The kernel caps this at `net.core.somaxconn` (4096 by default since
 * Linux 5.4, in each pod's network namespace).
 */
const ACCEPT_BACKLOG = 65_535;

async function listen(server: Server, port: number, backlog?: number): Promise<void> {
  server.listen({ port, ...(backlog === undefined ? {} : { backlog }) });
  await once(server, 'listening');
}

async function main(command: string): Promise<void> {
  if (command === 'serve') await serve(loadNodeConfig(process.env));
  else if (command === 'migrate') await runMigrations(loadCassandraConfig(process.env), log);
  else if (command === 'reseal') await runReseal(loadCassandraConfig(process.env), log);
  else throw new ConfigError('command', `unknown command ${command}; use serve, migrate or reseal`);
}

main(process.argv[2] ?? 'serve').catch((error: unknown) => {
  fail(log, error);
});

function fail(logger: Logger, error: unknown): never {
  if (error instanceof ConfigError) logger.fatal({ variable: error.variable }, `invalid configuration: ${error.message}`);
  else logger.fatal({ err: error }, 'chat node failed');
  process.exit(1);
}
