import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseChatClusterSpec, type ChatCluster } from '../../common/chatcluster.js';
import { CASSANDRA_IMAGE_START, cassandraCommand } from './cassandra-start.js';
import { cassandraTlsSetupScript } from './cassandra-tls.js';
import { desiredCassandra } from './dependencies.js';
import { chatClusterOf } from '../../test/support/chatcluster-fixture.js';

const withSlack = (timerSlackMicroseconds: number, more: object = {}): ChatCluster =>
  chatClusterOf({ cassandra: { managed: { timerSlackMicroseconds } }, ...more });

/** Runs a start script as the container would, with the server's start replaced by `instead`; its stdout. */
function runInstead(command: readonly string[] | undefined, instead: string): string {
  const [shell, flag, script] = command ?? [];
  if (shell !== '/bin/sh' || flag !== '-c' || script === undefined) throw new Error(`not a shell script: ${JSON.stringify(command)}`);
  return execFileSync(shell, [flag, script.replace(CASSANDRA_IMAGE_START, instead)], { encoding: 'utf8' });
}

describe('the managed Cassandra container’s command', () => {
  it('is the image’s own without a timer slack or TLS: the kernel’s slack, as before the field', () => {
    const statefulSet = desiredCassandra(chatClusterOf({}))?.statefulSet;
    expect(statefulSet?.spec?.template.spec?.containers[0]?.command).toBeUndefined();
  });

  it('sets the timer slack the spec asks for, in nanoseconds, on the process that execs the image’s entrypoint', () => {
    const command = desiredCassandra(withSlack(1000))?.statefulSet.spec?.template.spec?.containers[0]?.command;
    // What the official image runs when no command is given: its entrypoint, with its default command.
    expect(command?.[2]).toMatch(/\nexec docker-entrypoint\.sh cassandra -f\n$/);
    // What the server would be exec'd as reads the slack it inherits.
    expect(runInstead(command, 'exec cat /proc/self/timerslack_ns')).toBe('1000000\n');
    expect(runInstead(cassandraCommand(withSlack(1)), 'exec cat /proc/self/timerslack_ns')).toBe('1000\n');
  });

  it('with TLS too, sets the slack first, then prepares TLS, then starts the server', () => {
    const script = cassandraCommand(withSlack(250, { tls: { selfSigned: true } }))?.[2] ?? '';
    const slackAt = script.indexOf('/proc/self/timerslack_ns');
    const tlsAt = script.indexOf(cassandraTlsSetupScript());
    expect(slackAt).toBeGreaterThanOrEqual(0);
    expect(tlsAt).toBeGreaterThan(slackAt);
    expect(script.endsWith(`${cassandraTlsSetupScript()}\n${CASSANDRA_IMAGE_START}\n`)).toBe(true);
    expect(script).toContain('"250000"');
  });

  it('takes 1 µs to 10 ms of slack in the spec, and nothing outside it', () => {
    expect(parseChatClusterSpec({ cassandra: { managed: { timerSlackMicroseconds: 10_000 } } }).cassandra.managed?.timerSlackMicroseconds).toBe(10_000);
    for (const bad of [0, 10_001, 1.5]) expect(() => parseChatClusterSpec({ cassandra: { managed: { timerSlackMicroseconds: bad } } })).toThrow();
  });
});
