/**
 * A command-line chat client for people trying ChatCluster and for scripts.
 *
 *   chat token <user> [--ttl <s>]                  mint a dev token (HS256, needs CHAT_JWT_SECRET)
 *   chat listen [--cursor-file <f>]                print every frame as a JSON line until Ctrl-C,
 *                                                  reconnecting when a node drains or the socket is
 *                                                  lost; with a cursor file, first what was missed
 *                                                  since the cursor it holds, and it keeps the newest
 *   chat send <user:ID|group:NAME> <text> [--idem <key>]
 *   chat groups | chat group <create|join|leave|members> <name>
 *   chat history <user:ID|group:NAME> [--limit <n>] [--before <id>]
 *   chat sync [--since <cursor> | --cursor-file <f>]  every message since the cursor, page after page;
 *                                                  the cursor to resume from is kept in the file
 *                                                  (or printed on stderr)
 *
 * Connection: --url (or CHAT_URL, default ws://127.0.0.1:8080) and --token (or CHAT_TOKEN);
 * or --user <id> with CHAT_JWT_SECRET to mint a token on the fly. A wss:// node whose
 * certificate comes from a private CA: --ca <PEM file> (or CHAT_CA_FILE). Relative file
 * names are taken from where the command was typed, also under `npm run`.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { readVariable } from '../../common/env.js';
import { mintToken } from '../auth/tokens.js';
import { ClientFrame, GroupName, parseOrBadRequest, UserId, type Target } from '../protocol/frames.js';
import { RecentSet } from '../recent-set.js';
import { Connection, expectReply, type Frame, type Session } from './connection.js';
import { listen } from './listen.js';
import { KeptCursor, syncAll } from './sync-walk.js';

class UsageError extends Error {}

const USAGE = `usage: chat <token|listen|send|groups|group|history|sync> ... [--url ws://host:port | wss://host:port [--ca ca.pem]] [--token JWT | --user ID]
  chat token alice                 (with CHAT_JWT_SECRET set)
  chat send user:bob "hello"       chat send group:team "hi all" --idem k1
  chat group create team           chat groups
  chat history user:bob --limit 20 chat sync --cursor-file bob.cursor
  chat listen --cursor-file bob.cursor`;

const WebSocketUrl = z.url({ protocol: /^wss?$/, error: 'expected a ws:// or wss:// URL' });
/** Repeats only come from the last moments before a kept cursor: this many ids is plenty. */
const REMEMBERED_PRINTS = 10_000;

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
  return parsedOrUsage(schema, value, (complaint) => `${JSON.stringify(value ?? '')} is not a valid ${what}: ${complaint}`);
}

/** `value` as `schema` parses it, or a usage error that `explain` words from zod's first complaint. */
function parsedOrUsage<T>(schema: z.ZodType<T>, value: unknown, explain: (complaint: string) => string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new UsageError(explain(result.error.issues[0]?.message ?? 'invalid'));
  return result.data;
}

/** A whole number from `min` to `max` given for `flag`, or undefined when the flag is absent. */
function wholeNumber(value: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < min || number > max) throw new UsageError(`${flag} takes a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return number;
}

function webSocketUrl(value: string, from: string): string {
  return parsedOrUsage(WebSocketUrl, value, (complaint) => `${from}: ${complaint}, got ${JSON.stringify(value)}`);
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** What the CLI reads from its environment, read once at start like the node's and the operator's settings. */
interface CliEnvironment {
  url: string | undefined;
  token: string | undefined;
  jwtSecret: string | undefined;
  caFile: string | undefined;
  /** Where the command was typed: `npm run chat` starts in the package's folder and says where it came from in INIT_CWD. */
  workingDirectory: string;
}

function readEnvironment(env: NodeJS.ProcessEnv): CliEnvironment {
  return {
    url: readVariable(env, 'CHAT_URL', WebSocketUrl.optional()),
    token: readVariable(env, 'CHAT_TOKEN', z.string().optional(), { secret: true }),
    jwtSecret: readVariable(env, 'CHAT_JWT_SECRET', z.string().min(32, 'an HS256 secret needs at least 32 characters').optional(), { secret: true }),
    caFile: readVariable(env, 'CHAT_CA_FILE', z.string().optional()),
    // Only under `npm run chat` itself: any child of an npm script inherits INIT_CWD, wherever it runs.
    workingDirectory: env.npm_lifecycle_event === 'chat' && env.INIT_CWD !== undefined ? env.INIT_CWD : process.cwd(),
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

type Values = ReturnType<typeof parseCommandLine>['values'];

function parseCommandLine(argv: string[]) {
  return parseArgs({
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
}

/** `frame` when the node's own schema accepts it, else a usage error in the node's words. */
function validFrame(frame: Record<string, unknown>): Record<string, unknown> {
  try {
    parseOrBadRequest(ClientFrame, frame);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return frame;
}

/**
 * What a command does once connected, its arguments checked first (against the node's own
 * frame schema): a mistake in them is reported before any credentials or connection are
 * asked for.
 */
function planRequest(command: string, args: string[], values: Values, cursor: KeptCursor): (session: Session) => Promise<void> {
  switch (command) {
    case 'send': {
      const [to, text] = args;
      if (to === undefined || text === undefined) throw new UsageError('chat send <user:ID|group:NAME> <text>');
      const frame = validFrame({ type: 'send', to: parseTarget(to), text, ...(values.idem === undefined ? {} : { idem: values.idem }) });
      return async (session) => {
        print(expectReply(await session.request(frame)));
      };
    }
    case 'groups':
      return async (session) => {
        print(expectReply(await session.request({ type: 'groups' })).groups);
      };
    case 'group': {
      const [action, name] = args;
      const frames: Record<string, Record<string, unknown>> = {
        create: { type: 'group.create', name },
        join: { type: 'group.join', group: name },
        leave: { type: 'group.leave', group: name },
        members: { type: 'group.members', group: name },
      };
      const chosen = action === undefined ? undefined : frames[action];
      if (chosen === undefined || name === undefined) throw new UsageError('chat group <create|join|leave|members> <name>');
      const frame = validFrame(chosen);
      return async (session) => {
        print(expectReply(await session.request(frame)));
      };
    }
    case 'history': {
      const frame = validFrame({
        type: 'history',
        conv: parseTarget(args[0]),
        ...(values.limit === undefined ? {} : { limit: values.limit }),
        ...(values.before === undefined ? {} : { before: values.before }),
      });
      return async (session) => {
        const page = expectReply(await session.request(frame));
        for (const message of page.messages as unknown[]) print(message);
        if (page.more === true) process.stderr.write('(more: page on with --before <oldest id>)\n');
      };
    }
    case 'sync':
      validFrame({ type: 'sync', since: cursor.since() });
      return async (session) => {
        const kept = await syncAll(session, cursor.since(), new RecentSet(REMEMBERED_PRINTS), print);
        cursor.keep(kept);
        if (values['cursor-file'] === undefined) process.stderr.write(`cursor: ${kept} (resume with --since ${kept})\n`);
      };
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

async function main(argv: string[], environment: CliEnvironment): Promise<void> {
  const { values, positionals } = parseCommandLine(argv);
  const [command, ...args] = positionals;
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (command === undefined) throw new UsageError('no command');
  if (command === 'token') {
    const secret = environment.jwtSecret;
    if (args[0] === undefined) throw new UsageError('chat token <user> [--ttl <seconds>]');
    const user = validUser(args[0]);
    const ttl = wholeNumber(values.ttl, '--ttl', 1, 366 * 24 * 3600) ?? 3600;
    if (secret === undefined) throw new UsageError('chat token needs CHAT_JWT_SECRET (the cluster’s HS256 secret)');
    process.stdout.write(`${await mintToken(secret, user, ttl)}\n`);
    return;
  }

  const inWorkingDirectory = (file: string | undefined): string | undefined => (file === undefined ? undefined : resolve(environment.workingDirectory, file));
  const cursor = new KeptCursor(inWorkingDirectory(values['cursor-file']), values.since);
  const url = values.url === undefined ? (environment.url ?? 'ws://127.0.0.1:8080') : webSocketUrl(values.url, '--url');
  const caFile = inWorkingDirectory(values.ca ?? environment.caFile);
  const ca = caFile === undefined ? undefined : readCaFile(caFile);
  const open = async (onPush: (frame: Frame) => void): Promise<{ connection: Connection; hello: Frame }> =>
    Connection.open(url, await resolveToken(values, environment), ca, onPush);

  if (command === 'listen') {
    validFrame({ type: 'sync', since: cursor.since() });
    await listen({
      open,
      cursor,
      syncFirst: values['cursor-file'] !== undefined || values.since !== undefined,
      printed: new RecentSet(REMEMBERED_PRINTS),
      print,
      warn: (line) => process.stderr.write(`${line}\n`),
      random: Math.random,
      now: () => performance.now(),
      sleep: (ms) => sleep(ms),
    });
    return;
  }
  const run = planRequest(command, args, values, cursor);
  const { connection } = await open(() => undefined);
  try {
    await run(connection);
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
