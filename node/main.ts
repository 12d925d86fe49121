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
    pingIntervalMs: config.pingIntervalMs,
    tls: config.tls === undefined ? undefined : { files: config.tls },
  });
  let shuttingDown = false;
  const drainAndExit = (reason: string): void => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ reason }, 'draining');
    void (async () => {
      // A step that fails is logged and the rest still run: the ports and the backends are
      // closed and the process exits, whatever state a dependency left the drain in.
      const failures = await stepsSettled(log, [
        ['drain', () => node.drain(config.drainSpreadMs)],
        ['stop the node', () => node.stop()],
        [
          'close the ports',
          () => {
            publicServer.close();
            adminServer.close();
          },
        ],
        ['close the backends', () => backends.close()],
      ]);
      log.info({ failures }, 'drained; exiting');
      process.exit(failures === 0 ? 0 : 1);
    })();
  };
  const cpu = config.cpuRequestMillicores === undefined ? undefined : new CpuMeter({ requestMillicores: config.cpuRequestMillicores });
  cpu?.start();
  const adminServer = createAdminServer(node, cpu, () => {
    drainAndExit('POST /drain');
  });
  await Promise.all([listen(publicServer, config.port), listen(adminServer, config.adminPort)]);
  log.info({ node: config.nodeId, port: config.port, adminPort: config.adminPort, mode: backends.mode }, 'chat node serving');
  process.on('SIGTERM', () => {
    drainAndExit('SIGTERM');
  });
  process.on('SIGINT', () => {
    drainAndExit('SIGINT');
  });
}

/** Runs each step in turn, logging a failure and going on; resolves with how many failed. */
async function stepsSettled(logger: Logger, steps: readonly [string, () => unknown][]): Promise<number> {
  let failures = 0;
  for (const [step, run] of steps) {
    try {
      await run();
    } catch (error) {
      failures += 1;
      logger.error({ err: error, step }, 'shutdown step failed; going on');
    }
  }
  return failures;
}

/**
 * The public port keeps Node's default accept backlog, 511 (the kernel caps it at
 * `net.core.somaxconn`), on purpose. A longer kernel queue only holds connections longer,
 * past their clients' patience: in the bench's storm (one run each), with clients that retry
 * at once, a 4,096 queue left 9,273 of 10,000 clients unserved after 70 s, the node spending
 * itself on connections whose clients had already left, where 511 served them all in 61 s.
 * Waiting is the opening gate's job, which sheds with a 503 and drops clients that left.
 */
async function listen(server: Server, port: number): Promise<void> {
  server.listen(port);
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
