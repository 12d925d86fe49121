import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EnvError } from '../errors.js';
import { isAlive, run, startServer, stopServer, waitUntilReady } from '../process.js';
import { say, slowStep } from '../progress.js';
import { ensureDebianPackage, findCommand } from '../tools.js';
import { cacheRoot } from '../versions.js';
import { lacksSysResource } from './capabilities.js';

/** A Docker engine that runs privileged containers, and the client to reach it with. */
export interface DockerEngine {
  /** DOCKER_HOST for the docker CLI and kind, e.g. `unix:///run/chatcluster-docker/docker.sock`. */
  host: string;
  /** The docker client to call: Debian's, which builds with BuildKit without the buildx plugin. */
  client: string;
  /** True when this is the environment's own dockerd (started now or by an earlier run). */
  own: boolean;
}

const REMEDY =
  "install Debian's Docker (sudo apt-get install docker.io) and run as root so a dockerd of the test environment's own can start, or start a Docker engine that runs privileged containers and set DOCKER_HOST";

/** Debian's client: a newer docker on PATH (e.g. /usr/local/bin) may refuse BuildKit without buildx. */
const DEBIAN_CLIENT = '/usr/bin/docker';

/** The environment's own dockerd: runtime state under /run (gone at reboot), images in the cache. */
const OWN_STATE_DIR = '/run/chatcluster-docker';
const OWN_SOCKET = `unix://${OWN_STATE_DIR}/docker.sock`;
const OWN_PIDFILE = join(OWN_STATE_DIR, 'dockerd.pid');
const OWN_LOG = join(OWN_STATE_DIR, 'dockerd.log');
/** A runtime name of our own, so the wrapper is never mistaken for plain runc. */
const WRAPPED_RUNTIME = 'runc-drop-sys-resource';
const RUNC_WRAPPER = fileURLToPath(new URL('./runc-drop-sys-resource.sh', import.meta.url));

/**
 * A Docker engine for the test environment: the one in DOCKER_HOST or at the system
 * socket when it runs privileged containers, else a dockerd of the environment's own
 * (installing Debian's docker.io when missing). The own dockerd outlives this process,
 * so `kind:up`, tests and `kind:down` share it; `stopOwnDockerd` stops it.
 */
export async function provisionDocker(): Promise<DockerEngine> {
  const client = await dockerClient();
  const candidates = [process.env.DOCKER_HOST, 'unix:///var/run/docker.sock', OWN_SOCKET].filter(
    (host): host is string => host !== undefined && host !== '',
  );
  const tried: string[] = [];
  for (const host of new Set(candidates)) {
    const problem = await engineProblem(client, host);
    if (problem === undefined) return { host, client, own: host === OWN_SOCKET };
    tried.push(`${host}: ${problem}`);
  }
  if (ownDockerdPid() !== undefined) {
    throw new EnvError(
      `the environment's own dockerd runs but does not work:\n  ${tried.join('\n  ')}\nits log: ${OWN_LOG}`,
      'stop it with `npm run -s kind:down -- --engine` (its containers stop with it); the next run starts a fresh one',
    );
  }
  if (tried.some((line) => !line.endsWith('no engine answers'))) say(`not using: ${tried.join('; ')}`);
  await startOwnDockerd(client);
  const problem = await engineProblem(client, OWN_SOCKET);
  if (problem !== undefined) throw new EnvError(`the environment's own dockerd started but ${problem}; its log: ${OWN_LOG}`, REMEDY);
  return { host: OWN_SOCKET, client, own: true };
}

/** The environment for a docker or kind command aimed at `engine`. */
export function dockerEnv(engine: DockerEngine): NodeJS.ProcessEnv {
  return { ...process.env, DOCKER_HOST: engine.host, DOCKER_BUILDKIT: '1' };
}

/** Runs `docker args…` against `engine`, resolving with its output. */
export function docker(engine: DockerEngine, args: readonly string[]): Promise<string> {
  return run(engine.client, args, { env: dockerEnv(engine), remedy: REMEDY });
}

/** Stops the environment's own dockerd, if it runs (its containers stop with it). */
export async function stopOwnDockerd(): Promise<void> {
  const pid = ownDockerdPid();
  if (pid === undefined) return;
  await slowStep('stopping the environment\'s dockerd', () => stopServer(pid, 30_000));
}

async function dockerClient(): Promise<string> {
  if (existsSync(DEBIAN_CLIENT)) return DEBIAN_CLIENT;
  await ensureDebianPackage('dockerd', 'docker.io');
  if (existsSync(DEBIAN_CLIENT)) return DEBIAN_CLIENT;
  const onPath = findCommand('docker');
  if (onPath === undefined) throw new EnvError('no docker client found', REMEDY);
  return onPath;
}

/** Why the engine at `host` cannot serve the environment, or undefined when it can. */
async function engineProblem(client: string, host: string): Promise<string | undefined> {
  if (host.startsWith('unix://') && !existsSync(host.slice('unix://'.length))) return 'no engine answers';
  const env = { ...process.env, DOCKER_HOST: host };
  try {
    // `timeout`: a stale socket or a hung engine must not hang the run.
    await run('timeout', ['20', client, 'version', '--format', '{{.Server.Version}}'], { env });
  } catch {
    return 'no engine answers';
  }
  try {
    const image = await probeImage(client, env);
    await run('timeout', ['60', client, 'run', '--rm', '--privileged', '--network', 'none', image, '/usr/bin/true'], { env });
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n').slice(-3).join(' ') : String(error);
    return `a privileged container does not start (${detail})`;
  }
  return undefined;
}

const PROBE_IMAGE = 'chatcluster-probe:true';

/**
 * A tiny image holding the host's /usr/bin/true and its libraries, made with `docker
 * import` because no registry may be reachable. It proves privileged containers start.
 */
async function probeImage(client: string, env: NodeJS.ProcessEnv): Promise<string> {
  const present = await run(client, ['image', 'inspect', '--format', '{{.Id}}', PROBE_IMAGE], { env }).then(
    () => true,
    () => false,
  );
  if (present) return PROBE_IMAGE;
  const libraries = [...(await run('ldd', ['/usr/bin/true'])).matchAll(/(\/\S+) \(0x/g)].map((match) => match[1] ?? '');
  const tarball = join(tmpdir(), `chatcluster-probe-${process.pid}.tar`);
  try {
    const members = ['/usr/bin/true', ...libraries].map((path) => path.slice(1));
    await run('tar', ['-c', '--dereference', '-f', tarball, '-C', '/', ...members]);
    await run(client, ['import', tarball, PROBE_IMAGE], { env });
  } finally {
    rmSync(tarball, { force: true });
  }
  return PROBE_IMAGE;
}

function ownDockerdPid(): number | undefined {
  if (!existsSync(OWN_PIDFILE)) return undefined;
  const pid = Number(readFileSync(OWN_PIDFILE, 'utf8').trim());
  return pid > 0 && isAlive(pid) ? pid : undefined;
}

async function startOwnDockerd(client: string): Promise<void> {
  if (process.getuid?.() !== 0) throw new EnvError('no Docker engine that runs privileged containers is reachable', REMEDY);
  const dockerd = await ensureDebianPackage('dockerd', 'docker.io');
  mkdirSync(OWN_STATE_DIR, { recursive: true });
  const dataRoot = join(cacheRoot(), 'docker-data-root');
  const args = [
    '--data-root', dataRoot,
    '--exec-root', join(OWN_STATE_DIR, 'exec'),
    '--pidfile', OWN_PIDFILE,
    '-H', OWN_SOCKET,
    // Its own containerd under the exec root: a system containerd, if any, stays untouched.
    '--containerd-namespace', 'chatcluster',
    '--containerd-plugins-namespace', 'chatcluster-plugins',
  ];
  if (lacksSysResource(readFileSync('/proc/self/status', 'utf8'))) {
    args.push(...(await wrappedRuntimeArgs()));
    say('this host\'s capability bounding set lacks CAP_SYS_RESOURCE: dockerd runs containers through runc-drop-sys-resource.sh');
  }
  await slowStep('starting the environment\'s own dockerd', async () => {
    const server = startServer({ name: 'dockerd', command: dockerd, args, logFile: OWN_LOG });
    const env = { ...process.env, DOCKER_HOST: OWN_SOCKET };
    const answers = (): Promise<boolean> => run(client, ['version'], { env }).then(() => true, () => false);
    await waitUntilReady(server, answers, 60_000);
  });
}

/** dockerd arguments that make the capability-dropping runc wrapper the default runtime. */
async function wrappedRuntimeArgs(): Promise<string[]> {
  await ensureDebianPackage('jq', 'jq');
  const runc = await ensureDebianPackage('runc', 'runc');
  // dockerd outlives this checkout, and a later run may come from another one: it runs a
  // copy of the wrapper kept beside its own state, never a path in a work tree.
  const wrapper = join(OWN_STATE_DIR, 'runc-drop-sys-resource.sh');
  copyFileSync(RUNC_WRAPPER, wrapper);
  chmodSync(wrapper, 0o755);
  // dockerd takes a runtime's path only, so a shim passes the real runc to the wrapper.
  const shim = join(OWN_STATE_DIR, WRAPPED_RUNTIME);
  writeFileSync(shim, `#!/bin/sh\nexec ${wrapper} ${runc} "$@"\n`, { mode: 0o755 });
  return ['--add-runtime', `${WRAPPED_RUNTIME}=${shim}`, '--default-runtime', WRAPPED_RUNTIME];
}
