import { existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname } from 'node:path';
import { EnvError } from './errors.js';
import type { Launcher } from './launcher.js';
import { freePort } from './ports.js';
import { answersOk } from './probes.js';
import { isAlive, run } from './process.js';
import { ensureDebianPackage, findCommand, requireCommand } from './tools.js';

/** Debian's `prometheus` package: the server and its `promtool`. */
export interface PrometheusTools {
  prometheus: string;
  promtool: string;
}

const PACKAGE = 'prometheus';
const REMEDY = `install the Debian/Ubuntu package '${PACKAGE}' (sudo apt-get install --no-install-recommends ${PACKAGE}), or put prometheus and promtool on PATH`;
/** Where the package's SysV init script keeps the pid of the service it starts. */
const SERVICE_PIDFILE = '/run/prometheus/prometheus.pid';

/**
 * Finds prometheus and promtool, installing Debian's package when they are missing and
 * allowed. The package starts a system service of its own on :9090 when installed; the
 * tests start their own servers, so that service is stopped and disabled again.
 */
export async function provisionPrometheus(): Promise<PrometheusTools> {
  const installing = findCommand('prometheus') === undefined;
  const prometheus = await ensureDebianPackage('prometheus', PACKAGE);
  if (installing) await stopPackagedService();
  return { prometheus, promtool: requireCommand('promtool', REMEDY) };
}

/**
 * The folders to put on PATH for prometheus and promtool: none when they are already on it
 * (Debian's /usr/bin), so that PATH's order for every other command stays as it was.
 */
export function prometheusPathDirs(tools: PrometheusTools): string[] {
  const onPath = new Set((process.env.PATH ?? '').split(delimiter));
  return [...new Set([dirname(tools.prometheus), dirname(tools.promtool)])].filter((dir) => !onPath.has(dir));
}

/** Stops and disables the service the package's postinst may have started (systemd or SysV init). */
async function stopPackagedService(): Promise<void> {
  const remedy = 'stop the prometheus service the package started (systemctl disable --now prometheus, or /etc/init.d/prometheus stop)';
  if (existsSync('/run/systemd/system')) {
    await run('systemctl', ['disable', '--now', 'prometheus.service'], { remedy });
    const active = await run('systemctl', ['is-active', '--quiet', 'prometheus.service']).then(() => true, () => false);
    if (active) throw new EnvError('the packaged prometheus service is still running', remedy);
    return;
  }
  if (existsSync('/etc/init.d/prometheus')) {
    await run('/etc/init.d/prometheus', ['stop'], { remedy });
    await run('update-rc.d', [PACKAGE, 'disable'], { remedy });
  }
  const pid = existsSync(SERVICE_PIDFILE) ? Number(readFileSync(SERVICE_PIDFILE, 'utf8').trim()) : undefined;
  if (pid !== undefined && pid > 0 && isAlive(pid)) {
    throw new EnvError(`the packaged prometheus service (pid ${pid}) is still running`, remedy);
  }
}

/**
 * Starts a throw-away Prometheus on a free loopback port with `configFile`, its TSDB in
 * the launcher's folder; resolves with its URL once `/-/ready` answers. `--web.enable-lifecycle`
 * lets a test reload the configuration (`POST /-/reload`).
 */
export async function startPrometheus(
  tools: PrometheusTools,
  launcher: Launcher,
  configFile: string,
  port?: number,
): Promise<string> {
  const listenPort = port ?? (await freePort());
  const url = `http://127.0.0.1:${listenPort}`;
  await launcher.start(
    'prometheus',
    tools.prometheus,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${launcher.path('data')}`,
      `--web.listen-address=127.0.0.1:${listenPort}`,
      '--web.enable-lifecycle',
      '--log.level=warn',
    ],
    () => answersOk(`${url}/-/ready`),
    { timeoutMs: 30_000 },
  );
  return url;
}
