/**
 * A command-line chat client for people trying ChatCluster and for scripts.
 *
 *   chat token <user> [--ttl <s>]                  mint a dev token (HS256, needs CHAT_JWT_SECRET)
 *   chat listen [--cursor-file <f>]                print every frame as a JSON line until Ctrl-C;
 *                                                  with a cursor file, first what was missed since
 *                                                  the cursor it holds, and it keeps the newest cursor
 *   chat send <user:ID|group:NAME> <text> [--idem <key>]
 *   chat groups | chat group <create|join|leave|members> <name>
 *   chat history <user:ID|group:NAME> [--limit <n>] [--before <id>]
 *   chat sync [--since <cursor> | --cursor-file <f>]  every message since the cursor, page after page;
 *                                                  the cursor to resume from is kept in the file
 *                                                  (or printed on stderr)
 *
 * Connection: --url (or CHAT_URL, default ws://127.0.0.1:8080) and --token (or CHAT_TOKEN);
 * or --user <id> with CHAT_JWT_SECRET to mint a token on the fly. A wss:// node whose
 * certificate comes from a private CA: --ca <PEM file> (or CHAT_CA_FILE).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { z } from 'zod';
import { readVariable } from '../../common/env.js';
import { mintToken } from '../auth/tokens.js';
import { GroupName, UserId, type Target } from '../protocol/frames.js';

type Frame = Record<string, unknown> & { type: string };

class UsageError extends Error {}

const USAGE = `usage: chat <token|listen|send|groups|group|history|sync> ... [--url ws://host:port | wss://host:port [--ca ca.pem]] [--token JWT | --user ID]
  chat token alice                 (with CHAT_JWT_SECRET set)
  chat send user:bob "hello"       chat send group:team "hi all" --idem k1
  chat group create team           chat groups
  chat history user:bob --limit 20 chat sync --cursor-file bob.cursor
  chat listen --cursor-file bob.cursor`;

/** `user:bob` or `group:team` as a protocol target. */
function parseTarget(text: string | undefined): Target {
  const match = /^(user|group):(.+)$/.exec(text ?? '');
  if (match === null) throw new UsageError(`expected user:<id> or group:<name>, got ${JSON.stringify(text ?? '')}`);
  const [, kind, id] = match as unknown as [string, string, string];
  return kind === 'user' ? { user: validUser(id) } : { group: valid(GroupName, id, 'group name') };
}

function validUser(id: string | undefined): string {
  return valid(UserId, id, 'user id');
}

function valid(schema: typeof UserId, value: string | undefined, what: string): string {
  const result = schema.safeParse(value);
  if (!result.success) throw new UsageError(`${JSON.stringify(value ?? '')} is not a valid ${what}: ${result.error.issues[0]?.message ?? ''}`);
  return result.data;
}

/** One socket: connect, wait for hello, then request/reply by ref. */
class Connection {
  private nextRef = 0;
  private readonly pending = new Map<string, (frame: Frame) => void>();

  private constructor(
    private readonly socket: WebSocket,
    private readonly onPush: (frame: Frame) => void,
  ) {
    socket.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString('utf8')) as Frame;
      const waiter = typeof frame.ref === 'string' ? this.pending.get(frame.ref) : undefined;
      if (waiter !== undefined && typeof frame.ref === 'string') {
        this.pending.delete(frame.ref);
        waiter(frame);
      } else {
        onPush(frame);
      }
    });
  }

  static open(url: string, token: string, ca: string | undefined, onPush: (frame: Frame) => void): Promise<{ connection: Connection; hello: Frame }> {
    const socket = new WebSocket(`${url.replace(/\/$/, '')}/ws`, { headers: { authorization: `Bearer ${token}` }, ...(ca === undefined ? {} : { ca }) });
    return new Promise((resolve, reject) => {
      socket.once('unexpected-response', (_request, response) => {
        reject(new Error(`the node refused the connection: HTTP ${response.statusCode ?? '?'}`));
      });
      socket.once('error', reject);
      socket.once('message', (data: Buffer) => {
        const hello = JSON.parse(data.toString('utf8')) as Frame;
        if (hello.type !== 'hello') reject(new Error(`expected hello, got ${JSON.stringify(hello)}`));
        else resolve({ connection: new Connection(socket, onPush), hello });
      });
    });
  }

  request(frame: Record<string, unknown>): Promise<Frame> {
    const ref = `cli-${++this.nextRef}`;
    return new Promise((resolve) => {
      this.pending.set(ref, resolve);
      this.socket.send(JSON.stringify({ ...frame, ref }));
    });
  }

  close(): void {
    this.socket.close();
  }
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Prints a reply, failing the command (exit 1) when it is an `error` frame. */
function expectReply(frame: Frame): Frame {
  if (frame.type === 'error') throw new Error(`${String(frame.code)}: ${String(frame.message)}`);
  return frame;
}

/**
 * The cursor a client keeps between runs (PROTOCOL.md: the last `cursor` received, from a
 * `message` frame or the last page of a sync walk), in a file when one is named.
 */
class KeptCursor {
  constructor(private readonly file: string | undefined) {}

  /** Where to sync from: `--since`, else the file's cursor, else everything. */
  since(explicit: string | undefined): string {
    if (explicit !== undefined) return explicit;
    if (this.file === undefined || !existsSync(this.file)) return '0';
    return readFileSync(this.file, 'utf8').trim() || '0';
  }

  keep(cursor: unknown): void {
    if (typeof cursor !== 'string' || this.file === undefined) return;
    writeFileSync(this.file, `${cursor}\n`);
  }
}

/** Runs a sync walk from `since` to its last page, printing each message once; resolves with the walk's cursor. */
async function syncAll(connection: Connection, since: string, printed: Set<string>): Promise<string> {
  let from: string | null = since;
  let cursor = since;
  while (from !== null) {
    const page = expectReply(await connection.request({ type: 'sync', since: from }));
    for (const message of page.messages as Frame[]) printOnce(message, printed);
    from = page.next as string | null;
    cursor = page.cursor as string;
  }
  return cursor;
}

/** Prints a message unless one with its id was printed already (a sync may repeat a few). */
function printOnce(message: Frame, printed: Set<string>): void {
  const id = String(message.id);
  if (printed.has(id)) return;
  printed.add(id);
  // Bounded: repeats only come from the last moments before the kept cursor.
  if (printed.size > 10_000) printed.delete(printed.values().next().value ?? id);
  print(message);
}

/** What the CLI reads from its environment, read once at start like the node's and the operator's settings. */
interface CliEnvironment {
  url: string | undefined;
  token: string | undefined;
  jwtSecret: string | undefined;
  caFile: string | undefined;
}

function readEnvironment(env: NodeJS.ProcessEnv): CliEnvironment {
  return {
    url: readVariable(env, 'CHAT_URL', z.url({ protocol: /^wss?$/, error: 'expected a ws:// or wss:// URL' }).optional()),
    token: readVariable(env, 'CHAT_TOKEN', z.string().optional(), { secret: true }),
    jwtSecret: readVariable(env, 'CHAT_JWT_SECRET', z.string().min(32, 'an HS256 secret needs at least 32 characters').optional(), { secret: true }),
    caFile: readVariable(env, 'CHAT_CA_FILE', z.string().optional()),
  };
}

function readCaFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read the CA file ${file}: ${(error as Error).message}`);
  }
}

async function resolveToken(values: { token?: string | undefined; user?: string | undefined }, environment: CliEnvironment): Promise<string> {
  const token = values.token ?? environment.token;
  if (token !== undefined && token !== '') return token;
  const secret = environment.jwtSecret;
  if (values.user !== undefined && secret !== undefined) return mintToken(secret, validUser(values.user));
  throw new UsageError('no credentials: pass --token (or set CHAT_TOKEN), or --user with CHAT_JWT_SECRET set');
}

async function main(argv: string[], environment: CliEnvironment): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      ca: { type: 'string' },
      token: { type: 'string' },
      user: { type: 'string' },
      ttl: { type: 'string' },
      idem: { type: 'string' },
      limit: { type: 'string' },
      before: { type: 'string' },
      since: { type: 'string' },
      'cursor-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...args] = positionals;
  if (values.help === true || command === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (command === 'token') {
    const secret = environment.jwtSecret;
    if (secret === undefined) throw new UsageError('chat token needs CHAT_JWT_SECRET (the cluster’s HS256 secret)');
    process.stdout.write(`${await mintToken(secret, validUser(args[0]), Number(values.ttl ?? 3600))}\n`);
    return;
  }

  const url = values.url ?? environment.url ?? 'ws://127.0.0.1:8080';
  const listening = command === 'listen';
  const kept = new KeptCursor(values['cursor-file']);
  const printed = new Set<string>();
  const caFile = values.ca ?? environment.caFile;
  const ca = caFile === undefined ? undefined : readCaFile(caFile);
  const { connection, hello } = await Connection.open(url, await resolveToken(values, environment), ca, (frame) => {
    if (!listening) return;
    if (frame.type !== 'message') {
      print(frame);
      return;
    }
    printOnce(frame, printed);
    kept.keep(frame.cursor);
  });
  try {
    switch (command) {
      case 'listen':
        print(hello);
        if (values['cursor-file'] !== undefined) kept.keep(await syncAll(connection, kept.since(values.since), printed));
        await new Promise<never>(() => undefined);
        break;
      case 'send': {
        const [to, text] = args;
        if (text === undefined) throw new UsageError('chat send <user:ID|group:NAME> <text>');
        print(expectReply(await connection.request({ type: 'send', to: parseTarget(to), text, ...(values.idem === undefined ? {} : { idem: values.idem }) })));
        break;
      }
      case 'groups':
        print(expectReply(await connection.request({ type: 'groups' })).groups);
        break;
      case 'group': {
        const [action, name] = args;
        const frames: Record<string, Record<string, unknown>> = {
          create: { type: 'group.create', name },
          join: { type: 'group.join', group: name },
          leave: { type: 'group.leave', group: name },
          members: { type: 'group.members', group: name },
        };
        const frame = action === undefined ? undefined : frames[action];
        if (frame === undefined || name === undefined) throw new UsageError('chat group <create|join|leave|members> <name>');
        print(expectReply(await connection.request(frame)));
        break;
      }
      case 'history': {
        const page = expectReply(
          await connection.request({
            type: 'history',
            conv: parseTarget(args[0]),
            ...(values.limit === undefined ? {} : { limit: Number(values.limit) }),
            ...(values.before === undefined ? {} : { before: values.before }),
          }),
        );
        for (const message of page.messages as unknown[]) print(message);
        if (page.more === true) process.stderr.write('(more: page on with --before <oldest id>)\n');
        break;
      }
      case 'sync': {
        const cursor = await syncAll(connection, kept.since(values.since), printed);
        kept.keep(cursor);
        if (values['cursor-file'] === undefined) process.stderr.write(`cursor: ${cursor} (resume with --since ${cursor})\n`);
        break;
      }
      default:
        throw new UsageError(`unknown command ${command}`);
    }
  } finally {
    connection.close();
  }
}

Promise.resolve()
  .then(() => main(process.argv.slice(2), readEnvironment(process.env)))
  .catch((error: unknown) => {
    process.stderr.write(`chat: ${error instanceof Error ? error.message : String(error)}\n`);
    if (error instanceof UsageError) process.stderr.write(`${USAGE}\n`);
    process.exit(1);
  });
