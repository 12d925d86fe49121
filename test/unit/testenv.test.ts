import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cached, clearStaging } from '../../dev/env/cache.js';
import { CASSANDRA_TIMER_SLACK_NS, singleNodeCassandraYaml, withTimerSlack } from '../../dev/env/cassandra.js';
import { EnvError } from '../../dev/env/errors.js';
import { exportLines, parsePartNames, PART_NAMES } from '../../dev/env/environment.js';
import { Launcher } from '../../dev/env/launcher.js';
import { drawPort, FETCH_BLOCKED_PORTS, freePort, LISTEN_RANGE, listenRange, parseEphemeralRange } from '../../dev/env/ports.js';
import { answersOk } from '../../dev/env/probes.js';
import { formatElapsed } from '../../dev/env/progress.js';

const scratch: string[] = [];
function scratchDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'testenv-unit-'));
  scratch.push(dir);
  return dir;
}
afterEach(() => {
  // clearStaging also unmounts what a failed test left mounted there.
  for (const dir of scratch.splice(0)) clearStaging(dir);
});

describe('the build cache', () => {
  it('builds once and returns the cached folder afterwards', async () => {
    const dir = join(scratchDir(), 'thing-v1');
    let builds = 0;
    const build = (staging: string): Promise<void> => {
      builds += 1;
      writeFileSync(join(staging, 'artifact'), 'built');
      return Promise.resolve();
    };
    await cached(dir, build);
    await cached(dir, build);
    expect(builds).toBe(1);
    expect(readFileSync(join(dir, 'artifact'), 'utf8')).toBe('built');
  });

  it('leaves nothing behind when a build fails, and builds again next time', async () => {
    const dir = join(scratchDir(), 'thing-v1');
    await expect(cached(dir, () => Promise.reject(new Error('compiler crashed')))).rejects.toThrow('compiler crashed');
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(`${dir}.lock`)).toBe(false);
    await cached(dir, (staging) => {
      writeFileSync(join(staging, 'artifact'), 'second try');
      return Promise.resolve();
    });
    expect(readFileSync(join(dir, 'artifact'), 'utf8')).toBe('second try');
  });

  it('lets only one of two concurrent runs build', async () => {
    const dir = join(scratchDir(), 'thing-v1');
    let builds = 0;
    const slowBuild = async (staging: string): Promise<void> => {
      builds += 1;
      await new Promise((resolve) => setTimeout(resolve, 300));
      writeFileSync(join(staging, 'artifact'), 'built');
    };
    await Promise.all([cached(dir, slowBuild), cached(dir, slowBuild)]);
    expect(builds).toBe(1);
  });

  it('takes over a lock left by a process that died', async () => {
    const dir = join(scratchDir(), 'thing-v1');
    const deadPid = Number(execFileSync('bash', ['-c', 'sleep 0 & echo $!']).toString().trim());
    execFileSync('mkdir', [`${dir}.lock`]);
    writeFileSync(`${dir}.lock/pid`, String(deadPid));
    await cached(dir, (staging) => {
      writeFileSync(join(staging, 'artifact'), 'built');
      return Promise.resolve();
    });
    expect(existsSync(join(dir, 'artifact'))).toBe(true);
  });
});

describe('the build cache after an interrupted build', () => {
  it('unmounts what the build left mounted in its staging folder (a root filesystem\'s /proc) and builds again', async () => {
    // A space in the path: /proc/mounts writes it as \040.
    const dir = join(scratchDir(), 'rootfs v1');
    const leftMounted = join(`${dir}.partial`, 'root', 'proc');
    mkdirSync(leftMounted, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', leftMounted]);
    const listed = leftMounted.replace(/ /g, '\\040');
    expect(readFileSync('/proc/mounts', 'utf8')).toContain(listed);
    await cached(dir, (staging) => {
      writeFileSync(join(staging, 'artifact'), 'built');
      return Promise.resolve();
    });
    expect(readFileSync(join(dir, 'artifact'), 'utf8')).toBe('built');
    expect(readFileSync('/proc/mounts', 'utf8')).not.toContain(listed);
  });
});

describe('env:up output', () => {
  it('is shell lines that export every variable and put tool folders first on PATH', () => {
    const dir = scratchDir();
    const lines = exportLines({
      variables: { CHAT_REDIS_URL: 'redis://127.0.0.1:6390', ODD: "it's $HOME" },
      pathDirs: ['/cache/kubernetes/bin', '/cache/helm/bin'],
    });
    const script = `${lines}\nprintf '%s\\n' "$CHAT_REDIS_URL" "$ODD" "$PATH"`;
    const printed = execFileSync('/bin/sh', ['-c', script], { cwd: dir, env: { PATH: '/usr/bin:/bin' } }).toString();
    expect(printed.split('\n')).toEqual([
      'redis://127.0.0.1:6390',
      "it's $HOME",
      '/cache/kubernetes/bin:/cache/helm/bin:/usr/bin:/bin',
      '',
    ]);
  });

  it('accepts known part names, all of them by default, and names the unknown ones', () => {
    expect(parsePartNames([])).toEqual(PART_NAMES);
    expect(parsePartNames(['redis', 'k8s', 'redis'])).toEqual(['redis', 'k8s']);
    expect(() => parsePartNames(['redis', 'postgres'])).toThrow(EnvError);
    expect(() => parsePartNames(['postgres'])).toThrow(new RegExp(`unknown part postgres[\\s\\S]*${PART_NAMES.join(', ')}`));
  });
});

describe('the single-node cassandra.yaml', () => {
  it('binds loopback on the given ports and keeps every directory under the data folder', () => {
    const yaml = singleNodeCassandraYaml('/data/c', { native: 19042, storage: 17000 });
    expect(yaml).toContain('authenticator: AllowAllAuthenticator');
    expect(singleNodeCassandraYaml('/data/c', { native: 19042, storage: 17000 }, { login: { username: 'u', password: 'p' } })).toContain('authenticator: PasswordAuthenticator');
    expect(yaml).toContain('native_transport_port: 19042');
    expect(yaml).toContain('storage_port: 17000');
    expect(yaml).toContain('seeds: "127.0.0.1:17000"');
    expect(yaml).toContain('listen_address: 127.0.0.1');
    expect(yaml).toContain('commitlog_sync: periodic');
    expect(yaml).toContain('endpoint_snitch: SimpleSnitch');
    expect(yaml).toContain('num_tokens: 1');
    const directories = [...yaml.matchAll(/^(\w+_director(?:y|ies)): (.*)$/gm)];
    expect(directories.map(([, key]) => key)).toEqual([
      'data_file_directories', 'commitlog_directory', 'saved_caches_directory', 'hints_directory', 'cdc_raw_directory',
    ]);
    for (const [, , value] of directories) expect(value).toMatch(/"\/data\/c\/\w+"/);
  });
});

describe('the command that starts Cassandra with its timer slack', () => {
  it('runs the command itself (the shell execs it) with the timer slack set, its arguments untouched', () => {
    const [shell, args] = withTimerSlack(CASSANDRA_TIMER_SLACK_NS, 'sh', ['-c', 'echo "$(cat /proc/self/timerslack_ns)|$1|$#"', 'sh', 'one argument, with spaces']);
    // The slack is the command's, and its children's (cat) too.
    const output = execFileSync(shell, args, { encoding: 'utf8' }).trim().split('|');
    expect(output).toEqual([String(CASSANDRA_TIMER_SLACK_NS), 'one argument, with spaces', '1']);
  });

  it('says so on stderr when the kernel refuses the slack, and runs the command anyway', () => {
    const [shell, args] = withTimerSlack(-1, 'echo', ['went on']);
    const child = spawnSync(shell, args, { encoding: 'utf8' });
    expect(child.status).toBe(0);
    expect(child.stdout).toBe('went on\n');
    expect(child.stderr).toBe("cannot set a timer slack of -1 ns for echo; it runs with the kernel's default\n");
  });

  it('keeps the pid it was started with: the launcher stops and measures the JVM by it', () => {
    const [shell, args] = withTimerSlack(CASSANDRA_TIMER_SLACK_NS, 'sh', ['-c', 'echo $$']);
    const child = spawnSync(shell, args, { encoding: 'utf8' });
    expect(Number(child.stdout.trim())).toBe(child.pid);
  });
});

describe('small helpers', () => {
  it('formats elapsed time for progress lines', () => {
    expect(formatElapsed(4_400)).toBe('4s');
    expect(formatElapsed(59_400)).toBe('59s');
    expect(formatElapsed(61_000)).toBe('1m01s');
    expect(formatElapsed(3_725_000)).toBe('62m05s');
  });

  it('hands out distinct free loopback ports, from the range outside the ephemeral one when there is room', async () => {
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    expect(new Set(ports).size).toBe(20);
    // On this project's Linux machines there is room (32768-60999 leaves 10000-32767).
    const range = LISTEN_RANGE ?? { low: 1024, high: 65_535 };
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(range.low);
      expect(port).toBeLessThanOrEqual(range.high);
    }
  });

  it('draws listening ports from the wider side of the ephemeral range, or from the OS when neither side has room', () => {
    expect(listenRange({ low: 32768, high: 60999 })).toEqual({ low: 10_000, high: 32767 });
    expect(listenRange({ low: 10_500, high: 40_000 })).toEqual({ low: 40_001, high: 65_535 });
    expect(listenRange({ low: 1024, high: 65_000 })).toBeUndefined();
    expect(parseEphemeralRange('32768\t60999\n')).toEqual({ low: 32768, high: 60999 });
    expect(parseEphemeralRange('garbage')).toBeUndefined();
    expect(drawPort({ low: 10_000, high: 10_009 }, 0)).toBe(10_000);
    expect(drawPort({ low: 10_000, high: 10_009 }, 0.999)).toBe(10_009);
  });

  it('lists the ports, skipped by freePort, that the fetch of Node refuses to reach', async () => {
    // Checked against Node's own fetch: each listed port is one it refuses.
    for (const port of FETCH_BLOCKED_PORTS) {
      await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toMatchObject({ cause: { message: 'bad port' } });
    }
    // A port it does not refuse fails otherwise: one just freed, where nothing listens any more.
    const freed = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => {
          resolve(address !== null && typeof address === 'object' ? address.port : 0);
        });
      });
    });
    await expect(fetch(`http://127.0.0.1:${freed}/`)).rejects.toMatchObject({ cause: { code: 'ECONNREFUSED' } });
  });
});

describe('a server started on a free port', () => {
  it('is started again on another port when the first was taken before it could listen', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'launcher-'));
    const marker = join(dir, 'tried-once');
    // The first start fails as a Go server does when its port is taken; the second listens.
    const script = `
      const [port, marker] = process.argv.slice(1);
      const fs = require('node:fs');
      if (!fs.existsSync(marker)) {
        fs.writeFileSync(marker, '');
        console.error('listen tcp 127.0.0.1:' + port + ': bind: address already in use');
        process.exit(1);
      }
      require('node:http').createServer((request, response) => response.end('ok')).listen(Number(port), '127.0.0.1');`;
    const launcher = new Launcher(dir);
    const tried: number[] = [];
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const port = await launcher.startOnFreePort(
        'flaky',
        process.execPath,
        (candidate) => {
          tried.push(candidate);
          return ['-e', script, String(candidate), marker];
        },
        (candidate) => () => answersOk(`http://127.0.0.1:${candidate}/`),
      );
      expect(tried).toHaveLength(2);
      expect(port).toBe(tried[1]);
      expect(launcher.started.map((server) => server.name)).toEqual(['flaky']);
      expect(stderr.mock.calls.map(([text]) => String(text))).toContain(`[testenv] flaky: port ${tried[0] ?? ''} was taken while it started; trying another (attempt 2 of 3)\n`);
    } finally {
      stderr.mockRestore();
      await launcher.stopAll();
    }
  });
});
