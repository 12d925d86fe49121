import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { EnvError } from './errors.js';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Called with each line the command prints (stdout and stderr). */
  onLine?: (line: string) => void;
  /** What to tell the person when the command fails. */
  remedy?: string;
}

/** Runs a command to completion; rejects with its last output lines when it fails. */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    let partial = '';
    const collect = (chunk: Buffer): void => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        output.push(line);
        options.onLine?.(line);
      }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', (error) => {
      reject(new EnvError(`cannot run ${command}: ${error.message}`, options.remedy));
    });
    child.on('close', (code, signal) => {
      if (partial !== '') output.push(partial);
      if (code === 0) {
        resolve(output.join('\n'));
        return;
      }
      const tail = output.slice(-25).join('\n');
      const how = signal === null ? `exit code ${String(code)}` : `signal ${signal}`;
      reject(new EnvError(`${command} ${args.join(' ')} failed (${how}):\n${tail}`, options.remedy));
    });
  });
}

/** A server the environment started in the background, in a process group of its own. */
export interface ServerProcess {
  name: string;
  pid: number;
  logFile: string;
}

export interface ServerSpec {
  name: string;
  command: string;
  args: readonly string[];
  logFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /**
   * When set, the server is stopped as soon as this process is gone, however it ended
   * (test run finished, crashed or interrupted) ...
   */
  ownerPid?: number;
  /** ... unless this file exists by then: `env:up` writes it once everything is up. */
  keepFile?: string;
}

/** Starts a server detached from this process, its output appended to `logFile`. */
export function startServer(spec: ServerSpec): ServerProcess {
  const log = openSync(spec.logFile, 'a');
  try {
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      detached: true,
      stdio: ['ignore', log, log],
    });
    if (child.pid === undefined) {
      throw new EnvError(`cannot start ${spec.name} (${spec.command})`);
    }
    child.unref();
    if (spec.ownerPid !== undefined) stopWhenOwnerExits(spec.ownerPid, child.pid, spec.keepFile ?? '');
    return { name: spec.name, pid: child.pid, logFile: spec.logFile };
  } finally {
    closeSync(log);
  }
}

/**
 * A shell that outlives a crashed or interrupted owner and then stops the server's
 * process group, so nothing is left listening whatever way the test run ends.
 */
function stopWhenOwnerExits(ownerPid: number, serverPid: number, keepFile: string): void {
  afterOwnerExits(ownerPid, `
    [ -n "$2" ] && [ -e "$2" ] && exit 0
    kill -TERM -- "-$1" 2>/dev/null || exit 0
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$1" 2>/dev/null || exit 0; sleep 1; done
    kill -KILL -- "-$1" 2>/dev/null`, [String(serverPid), keepFile], serverPid);
}

/**
 * Kills a child process of this test worker if the worker dies first (crash, interrupt),
 * so no node or operator outlives the run; does nothing once the child exited on its own.
 */
export function killWhenOwnerExits(childPid: number): void {
  afterOwnerExits(process.pid, 'kill -KILL "$1" 2>/dev/null', [String(childPid)], childPid);
}

/** Removes `dir` once its owner is gone and its servers had time to stop. */
export function removeWhenOwnerExits(ownerPid: number, dir: string): void {
  afterOwnerExits(ownerPid, 'sleep 15; rm -rf -- "$1"', [dir]);
}

/**
 * Runs `script` (with `args` as $1, $2, ...) in a detached shell once `ownerPid` has
 * exited, or `alsoWhenGone` has, whichever comes first.
 */
function afterOwnerExits(ownerPid: number, script: string, args: readonly string[], alsoWhenGone?: number): void {
  const watched = [ownerPid, ...(alsoWhenGone === undefined ? [] : [alsoWhenGone])];
  const wait = `while ${watched.map((pid) => `kill -0 ${pid} 2>/dev/null`).join(' && ')}; do sleep 1; done`;
  const watchdog = spawn('bash', ['-c', `${wait}
${script}`, 'watchdog', ...args], { detached: true, stdio: 'ignore' });
  watchdog.unref();
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops a server's whole process group: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopServer(pid: number, graceMs = 10_000): Promise<void> {
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is already gone.
    }
  };
  signalGroup('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  signalGroup('SIGKILL');
  while (isAlive(pid)) await sleep(50);
}

/** The last lines a server wrote, for error messages. */
export function logTail(logFile: string, lines = 20): string {
  if (!existsSync(logFile)) return '(no log)';
  return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * Polls `isReady` until it answers true. Fails at once, with the server's last log
 * lines, if the server exits first, and the same way after `timeoutMs`.
 */
export async function waitUntilReady(
  server: ServerProcess,
  isReady: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!isAlive(server.pid)) {
      throw new EnvError(`${server.name} exited while starting; its log (${server.logFile}) ends:\n${logTail(server.logFile)}`);
    }
    if (await isReady().catch(() => false)) return;
    if (Date.now() > deadline) {
      throw new EnvError(
        `${server.name} was not ready after ${timeoutMs / 1000}s; its log (${server.logFile}) ends:\n${logTail(server.logFile)}`,
      );
    }
    await sleep(250);
  }
}
