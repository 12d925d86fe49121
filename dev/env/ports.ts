import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** A range of TCP ports, both ends included. */
export interface PortRange {
  low: number;
  high: number;
}

/** Linux's default ephemeral range, used where /proc cannot be read. */
const DEFAULT_EPHEMERAL: PortRange = { low: 32768, high: 60999 };
/** Below it sit well-known services (and the ports people pick by hand for theirs). */
const LOWEST_LISTEN_PORT = 10_000;
/** A range narrower than this is not worth drawing from: picks would collide too often. */
const NARROWEST_RANGE = 2_000;
/** Draws before falling back to a port the OS picks. */
const DRAWS = 50;
/**
 * The Fetch standard's "bad ports" at or above LOWEST_LISTEN_PORT: Node's fetch (undici)
 * refuses them with "bad port", so a server there could not be reached by a test's fetch.
 */
export const FETCH_BLOCKED_PORTS: ReadonlySet<number> = new Set([10_080]);

/**
 * Where servers of the environment listen: a range outside the OS's ephemeral ports.
 * The OS gives ephemeral ports to outgoing connections too, so a port that was free when
 * picked could be some client's by the time a slow server binds it (an API server opens
 * many connections to etcd while the control plane starts). Undefined when the ephemeral
 * range leaves no room.
 */
export function listenRange(ephemeral: PortRange): PortRange | undefined {
  const below = { low: LOWEST_LISTEN_PORT, high: ephemeral.low - 1 };
  const above = { low: ephemeral.high + 1, high: 65_535 };
  const wider = below.high - below.low >= above.high - above.low ? below : above;
  return wider.high - wider.low + 1 >= NARROWEST_RANGE ? wider : undefined;
}

/** The OS's ephemeral range, from `ip_local_port_range` ("low<TAB>high"). */
export function parseEphemeralRange(text: string): PortRange | undefined {
  const [low, high] = text.trim().split(/\s+/).map(Number);
  if (low === undefined || high === undefined || !Number.isInteger(low) || !Number.isInteger(high) || low > high) return undefined;
  return { low, high };
}

function ephemeralRange(): PortRange {
  try {
    return parseEphemeralRange(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')) ?? DEFAULT_EPHEMERAL;
  } catch {
    return DEFAULT_EPHEMERAL;
  }
}

/** Where freePort draws from on this machine; undefined when it leaves the choice to the OS. */
export const LISTEN_RANGE = listenRange(ephemeralRange());
/** Ports this process has handed out or is probing: two picks of one run never coincide. */
const handedOut = new Set<number>();
let saidFallback = false;

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, drawn at random from outside the
 * ephemeral range (see listenRange), so no outgoing connection takes it before it is used;
 * another run's server still can, rarely (a draw from some 20,000 ports).
 */
export async function freePort(): Promise<number> {
  for (let draw = 0; LISTEN_RANGE !== undefined && draw < DRAWS; draw++) {
    const port = drawPort(LISTEN_RANGE, Math.random());
    if (handedOut.has(port) || FETCH_BLOCKED_PORTS.has(port)) continue;
    // Held while probed, so a concurrent pick in this process draws another.
    handedOut.add(port);
    if ((await listenOn(port)) !== undefined) return port;
    handedOut.delete(port);
  }
  if (!saidFallback) {
    saidFallback = true;
    process.stderr.write('[testenv] no room outside the ephemeral port range: servers get ports the OS picks, which outgoing connections may take first\n');
  }
  const port = await listenOn(0);
  if (port === undefined) throw new Error('no free port on 127.0.0.1');
  handedOut.add(port);
  return port;
}

/** The port of `range` that `fraction` (0 to 1, not 1) falls on. */
export function drawPort(range: PortRange, fraction: number): number {
  return range.low + Math.floor(fraction * (range.high - range.low + 1));
}

/** Listens on `port` of 127.0.0.1 and closes again: the port listened on, or undefined when taken. */
function listenOn(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => {
      resolve(undefined);
    });
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        resolve(address === null || typeof address === 'string' ? undefined : address.port);
      });
    });
  });
}
