import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

/** A progress line on stderr, so stdout holds only the report. */
export function progress(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

/**
 * What the benchmark started and must stop however the run ends (done, failed,
 * interrupted): steps run once, newest first, each failure reported without stopping the rest.
 */
export class Teardown {
  private readonly steps: { what: string; run: () => Promise<unknown> }[] = [];
  private running: Promise<void> | undefined;

  add(what: string, run: () => Promise<unknown>): void {
    this.steps.push({ what, run });
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps.reverse()) {
        try {
          await step.run();
        } catch (error) {
          progress(`could not ${step.what}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    })();
    return this.running;
  }
}

/** On Ctrl-C or SIGTERM: tear down, then exit 130; a second signal exits at once (the watchdogs clean up). */
export function tearDownOnSignals(teardown: Teardown): void {
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    progress(`${signal}: stopping everything the benchmark started`);
    void teardown.run().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/**
 * A detached shell that stops `childPid` once this process is gone however it ended, so a
 * crashed benchmark leaves no chat node or relay running. It exits when the child does.
 */
export function stopChildWhenOwnerExits(childPid: number): void {
  const script = `
    while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done
    kill -0 "$2" 2>/dev/null || exit 0
    kill -TERM "$2" 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$2" 2>/dev/null || exit 0; sleep 1; done
    kill -KILL "$2" 2>/dev/null`;
  const watchdog = spawn('bash', ['-c', script, 'bench-watchdog', String(process.pid), String(childPid)], {
    detached: true,
    stdio: 'ignore',
  });
  watchdog.unref();
}

/** Resolves once the child has exited (at once if it already has). */
export async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await once(child, 'exit');
}

/** Stops a child: `signal`, then SIGKILL if it has not exited after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 15_000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = exited(child);
  child.kill(signal);
  const inTime = await Promise.race([gone.then(() => true), sleep(graceMs).then(() => false)]);
  if (inTime) return;
  progress(`process ${child.pid ?? '?'} did not exit within ${graceMs} ms of ${signal}; killing it`);
  child.kill('SIGKILL');
  await gone;
}

/** The pids of child processes that have one, for the CPU meter. */
export function pidsOf(children: readonly { child: { pid?: number | undefined } }[]): number[] {
  return children.flatMap(({ child }) => (child.pid === undefined ? [] : [child.pid]));
}
