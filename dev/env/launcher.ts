import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { say } from './progress.js';
import { startServer, stopServer, waitUntilReady, type ServerProcess } from './process.js';

/** How a server is started: how long it may take to be ready, its environment and folder. */
export interface StartOptions {
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** How many ports startOnFreePort tries before it gives up. */
const PORT_ATTEMPTS = 3;

/**
 * Starts the processes of one part of the environment into its own folder and remembers
 * them, so a part that fails half-way can stop exactly what it had started.
 */
export class Launcher {
  readonly started: ServerProcess[] = [];
  /** How each server was started, by name, so it can be started again the same way. */
  private readonly commands = new Map<string, { command: string; args: readonly string[]; options: StartOptions }>();

  constructor(
    /** The part's folder: data, configuration and a `logs/` folder. */
    readonly dir: string,
    private readonly lifetime: { ownerPid?: number; keepFile?: string } = {},
  ) {
    mkdirSync(join(dir, 'logs'), { recursive: true });
  }

  path(...segments: string[]): string {
    return join(this.dir, ...segments);
  }

  /** Starts `name` and waits until `isReady` answers true. */
  async start(
    name: string,
    command: string,
    args: readonly string[],
    isReady: () => Promise<boolean>,
    options: StartOptions = {},
  ): Promise<ServerProcess> {
    this.commands.set(name, { command, args, options });
    const server = startServer({
      name,
      command,
      args,
      logFile: this.path('logs', `${name}.log`),
      ownerPid: this.lifetime.ownerPid,
      keepFile: this.lifetime.keepFile,
      env: options.env,
      cwd: options.cwd,
    });
    this.started.push(server);
    await waitUntilReady(server, isReady, options.timeoutMs ?? 60_000);
    return server;
  }

  /**
   * Starts `name` listening on a port picked just before it starts, and on another when
   * that port was taken meanwhile (picks are outside the ports outgoing connections get,
   * see freePort, but another run's server could draw the same). For servers that start
   * slowly after their port is picked; the others start at once. Resolves with the port.
   */
  async startOnFreePort(
    name: string,
    command: string,
    argsOn: (port: number) => readonly string[],
    isReadyOn: (port: number) => () => Promise<boolean>,
  ): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        await this.start(name, command, argsOn(port), isReadyOn(port));
        return port;
      } catch (error) {
        if (attempt >= PORT_ATTEMPTS || !(error instanceof Error) || !error.message.includes('address already in use')) throw error;
        // It exited while starting: nothing of it is left to stop.
        const failed = this.started.findIndex((server) => server.name === name);
        if (failed !== -1) this.started.splice(failed, 1);
        // Said, so a run's log shows how often the picks collide (none seen yet, which would make the retry worth removing).
        say(`${name}: port ${port} was taken while it started; trying another (attempt ${attempt + 1} of ${PORT_ATTEMPTS})`);
      }
    }
  }

  /**
   * Starts `name`'s command line again, as it was started first (a server stopped to test
   * its clients), as `asName` (its own log), and waits until `isReady` answers true.
   */
  startAgain(name: string, asName: string, isReady: () => Promise<boolean>): Promise<ServerProcess> {
    const first = this.commands.get(name);
    if (first === undefined) throw new Error(`${name} was not started`);
    return this.start(asName, first.command, first.args, isReady, first.options);
  }

  /** A process this launcher started, by name. */
  process(name: string): ServerProcess {
    const server = this.started.find((candidate) => candidate.name === name);
    if (server === undefined) throw new Error(`${name} was not started`);
    return server;
  }

  /** Stops every process this launcher started, newest first. */
  async stopAll(): Promise<void> {
    for (const server of [...this.started].reverse()) await stopServer(server.pid);
    this.started.length = 0;
  }
}
