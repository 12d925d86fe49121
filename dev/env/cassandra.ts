import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cassandraClient, type CassandraCredentials } from '../../node/store/cassandra/client.js';
import { setOwnTimerSlack } from '../../common/timer-slack.js';
import { cached } from './cache.js';
import type { TestCertificates } from './certificates.js';
import { EnvError } from './errors.js';
import type { Launcher } from './launcher.js';
import { freePort } from './ports.js';
import { run } from './process.js';
import { slowStep } from './progress.js';
import { requireCommand } from './tools.js';
import { cacheDir, versions } from './versions.js';

const POM = fileURLToPath(new URL('cassandra/pom.xml', import.meta.url));
export const CASSANDRA_DATACENTER = 'datacenter1';
const JAVA_REMEDY = 'install Java 17 (Debian: openjdk-17-jre-headless) or set JAVA_HOME to a Java 11 or 17';

/** What running Cassandra needs: a suitable `java` and the folder of Cassandra's jars. */
export interface CassandraInstall {
  java: string;
  libDir: string;
}

/**
 * Fetches cassandra-all and its runtime dependencies from Maven Central (once, cached
 * by version). The binary tarball is not published there, so Maven resolves the jars.
 */
export async function provisionCassandra(): Promise<CassandraInstall> {
  const java = await findJava();
  return { java, libDir: await fetchCassandraJars(versions.cassandra) };
}

/** The folder of one Cassandra release's jars (cassandra-all and its runtime dependencies), fetched once. */
export async function fetchCassandraJars(version: string): Promise<string> {
  const mvn = requireCommand('mvn', "install Maven (Debian package 'maven')");
  const dir = await cached(cacheDir('cassandra', version), async (staging) => {
    await slowStep(`Cassandra ${version}: fetching jars with Maven`, () =>
      run(mvn, [
        '-B', '-q', '-f', POM,
        `-Dcassandra.version=${version}`,
        'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies',
        '-DincludeScope=runtime',
        `-DoutputDirectory=${join(staging, 'lib')}`,
      ], { remedy: 'Maven needs Maven Central; check the network or ~/.m2/settings.xml' }),
    );
  });
  return join(dir, 'lib');
}

/** Cassandra 5.0 runs on Java 11 or 17 only. */
async function findJava(): Promise<string> {
  const java = process.env.JAVA_HOME === undefined ? requireCommand('java', JAVA_REMEDY) : join(process.env.JAVA_HOME, 'bin', 'java');
  const banner = await run(java, ['-version'], { remedy: JAVA_REMEDY });
  const major = /version "(?:1\.)?(\d+)/.exec(banner)?.[1];
  if (major !== '11' && major !== '17') {
    throw new EnvError(`Cassandra ${versions.cassandra} needs Java 11 or 17, but ${java} is Java ${major ?? '(unknown)'}`, JAVA_REMEDY);
  }
  return java;
}

/** Ports of one Cassandra node. */
export interface CassandraPorts {
  native: number;
  storage: number;
}

/** The login to a test Cassandra: its default superuser, which PasswordAuthenticator makes at the first start. */
export const DEFAULT_CASSANDRA_LOGIN: CassandraCredentials = { username: 'cassandra', password: 'cassandra' };

/** What a test Cassandra asks of its clients besides its address: TLS only, a login. */
export interface CassandraClientRequirements {
  clientTls?: TestCertificates;
  /** Turns on PasswordAuthenticator: clients must log in, as with most managed Cassandras. */
  login?: CassandraCredentials;
}

/** A minimal single-node cassandra.yaml on loopback (Cassandra rejects unknown keys). */
export function singleNodeCassandraYaml(dir: string, ports: CassandraPorts, requirements: CassandraClientRequirements = {}): string {
  const { clientTls } = requirements;
  const path = (name: string): string => JSON.stringify(join(dir, name));
  // TLS only: `optional: false` refuses a plaintext client on the native port.
  const tls =
    clientTls === undefined
      ? []
      : [
          'client_encryption_options:',
          '  enabled: true',
          '  optional: false',
          `  keystore: ${JSON.stringify(clientTls.keystoreFile)}`,
          `  keystore_password: ${JSON.stringify(clientTls.keystorePassword)}`,
          '  store_type: PKCS12',
          '  require_client_auth: false',
        ];
  return [
    'cluster_name: chatcluster-testenv',
    'num_tokens: 1',
    'initial_token: 0',
    'partitioner: org.apache.cassandra.dht.Murmur3Partitioner',
    'endpoint_snitch: SimpleSnitch',
    'seed_provider:',
    '  - class_name: org.apache.cassandra.locator.SimpleSeedProvider',
    `    parameters: [{seeds: "127.0.0.1:${ports.storage}"}]`,
    'listen_address: 127.0.0.1',
    'rpc_address: 127.0.0.1',
    `storage_port: ${ports.storage}`,
    `native_transport_port: ${ports.native}`,
    'start_native_transport: true',
    'commitlog_sync: periodic',
    'commitlog_sync_period: 10000ms',
    `data_file_directories: [${path('data')}]`,
    `commitlog_directory: ${path('commitlog')}`,
    `saved_caches_directory: ${path('saved_caches')}`,
    `hints_directory: ${path('hints')}`,
    `cdc_raw_directory: ${path('cdc_raw')}`,
    `authenticator: ${requirements.login === undefined ? 'AllowAllAuthenticator' : 'PasswordAuthenticator'}`,
    'authorizer: AllowAllAuthorizer',
    // Tests create and drop a keyspace per file; snapshots on drop would only fill the disk.
    'auto_snapshot: false',
    ...tls,
    '',
  ].join('\n');
}

const LOGBACK = `<configuration>
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>\${cassandra.logdir}/system.log</file>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %F:%L - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
`;

/**
 * The JVM flags Cassandra 5.0 needs on Java 17 (module access it relies on), with a
 * heap capped at 1 GiB. They mirror the distribution's jvm17-server.options.
 */
function jvmFlags(libDir: string): string[] {
  const exports = [
    'java.base/jdk.internal.misc', 'java.management.rmi/com.sun.jmx.remote.internal.rmi',
    'java.rmi/sun.rmi.registry', 'java.rmi/sun.rmi.server', 'java.sql/java.sql', 'java.base/java.lang.ref',
    'jdk.unsupported/sun.misc', 'jdk.compiler/com.sun.tools.javac.file', 'jdk.attach/sun.tools.attach',
  ];
  const opens = [
    'java.base/java.lang.module', 'java.base/jdk.internal.loader', 'java.base/jdk.internal.ref',
    'java.base/jdk.internal.reflect', 'java.base/jdk.internal.math', 'java.base/jdk.internal.module',
    'java.base/jdk.internal.util.jar', 'jdk.management/com.sun.management.internal', 'java.base/sun.nio.ch',
    'java.base/java.io', 'java.base/java.lang.reflect', 'jdk.compiler/com.sun.tools.javac',
    'java.base/java.lang', 'java.base/java.util',
  ];
  return [
    '-Xms256m', '-Xmx1g', '-Xss512k',
    '-XX:+UseG1GC', '-XX:+ExitOnOutOfMemoryError',
    '-Djdk.attach.allowAttachSelf=true',
    '-Dio.netty.tryReflectionSetAccessible=true',
    `-javaagent:${jammAgent(libDir)}`,
    ...exports.flatMap((name) => ['--add-exports', `${name}=ALL-UNNAMED`]),
    ...opens.flatMap((name) => ['--add-opens', `${name}=ALL-UNNAMED`]),
  ];
}

/** Cassandra measures memory with jamm, loaded as a Java agent. */
function jammAgent(libDir: string): string {
  const jar = readdirSync(libDir).find((name) => /^jamm-[\d.]+\.jar$/.test(name));
  if (jar === undefined) throw new EnvError(`no jamm jar in ${libDir}; remove that folder to fetch Cassandra again`);
  return join(libDir, jar);
}

/**
 * Starts one Cassandra node as its own JVM; resolves with its contact point
 * (`127.0.0.1:<port>`) once `SELECT release_version FROM system.local` answers.
 */
export async function startCassandra(install: CassandraInstall, launcher: Launcher, requirements: CassandraClientRequirements = {}): Promise<string> {
  const { clientTls, login } = requirements;
  const [native, storage] = await Promise.all([freePort(), freePort()]);
  const dataDir = launcher.path('data');
  mkdirSync(dataDir, { recursive: true });
  const config = launcher.path('cassandra.yaml');
  const logback = launcher.path('logback.xml');
  writeFileSync(config, singleNodeCassandraYaml(dataDir, { native, storage }, requirements));
  writeFileSync(logback, LOGBACK);

  const contactPoint = `127.0.0.1:${native}`;
  await launcher.start(
    'cassandra',
    ...withTimerSlack(CASSANDRA_TIMER_SLACK_NS, install.java, [
      ...jvmFlags(install.libDir),
      `-Dcassandra.config=file://${config}`,
      `-Dlogback.configurationFile=file://${logback}`,
      `-Dcassandra.logdir=${launcher.path('logs')}`,
      `-Dcassandra.storagedir=${dataDir}`,
      `-Dcassandra.triggers_dir=${launcher.path('triggers')}`,
      '-Dcassandra-foreground=yes',
      // One node: no ring to wait for.
      '-Dcassandra.skip_wait_for_gossip_to_settle=0',
      '-Dcassandra.ring_delay_ms=0',
      // The default superuser at once, not 10 s after the start.
      ...(login === undefined ? [] : ['-Dcassandra.superuser_setup_delay_ms=0']),
      '-cp', `${install.libDir}/*`,
      'org.apache.cassandra.service.CassandraDaemon',
    ]),
    () => answersQuery(contactPoint, clientTls === undefined ? undefined : readFileSync(clientTls.caFile, 'utf8'), login),
    { timeoutMs: 180_000 },
  );
  return contactPoint;
}

/**
 * How long the kernel may defer the timed sleeps of Cassandra's threads (their timer slack;
 * Linux's default is 50 µs). Once a burst of work is done, Cassandra's shared worker pool
 * keeps a worker looking for the next request in sleeps of 10 µs to 1 ms for up to 10 ms
 * (SEPWorker's spin): tens of wake-ups after every request when requests come apart. On
 * this 2-core machine, which Cassandra shares with the chat nodes and the load generator,
 * that spin cost more than the writes: the bench's limits scenario measured Cassandra alone
 * storing direct messages at 6 cores per 1,000 msg/s at 50 msg/s and 0.35 at 2,000; with
 * 1 ms of slack, 1.4 and 0.13. The price is latency: a request handed to a sleeping spinner
 * waits for its wake-up, up to the slack (the store path's p50 at 2,000 msg/s went from 0.9
 * to 2.2 ms, a message being two requests in a row).
 */
export const CASSANDRA_TIMER_SLACK_NS = 1_000_000;

/**
 * The command line that runs `command args` with a timer slack of `slackNs`: a shell sets
 * its own (any process may set its own, no privilege needed) and execs the command, which
 * keeps the shell's pid and passes the slack on to its threads and children. Where the
 * kernel refuses, the shell says so on stderr (the server's log) and runs the command anyway.
 */
export function withTimerSlack(slackNs: number, command: string, args: readonly string[]): [string, string[]] {
  const script = `${setOwnTimerSlack('$0', '$1')}
exec "$@"`;
  return ['/bin/sh', ['-c', script, String(slackNs), command, ...args]];
}

/** Whether a client as the node makes it (node/store/cassandra/client.ts) gets an answer. */
async function answersQuery(contactPoint: string, ca?: string, credentials?: CassandraCredentials): Promise<boolean> {
  const client = cassandraClient({
    contactPoints: [contactPoint],
    localDataCenter: CASSANDRA_DATACENTER,
    ...(ca === undefined ? {} : { tls: { ca } }),
    ...(credentials === undefined ? {} : { credentials }),
  });
  try {
    const result = await client.execute('SELECT release_version FROM system.local');
    return result.first().get('release_version') !== undefined;
  } finally {
    await client.shutdown();
  }
}
