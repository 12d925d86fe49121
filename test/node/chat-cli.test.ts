import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatClient } from '../support/chat-client.js';
import { startChatCluster, type ChatCluster } from '../support/chat-cluster.js';
import { testEnvironment } from '../support/env.js';
import { LoadBalancer } from '../../dev/env/load-balancer.js';
import { startNode, stopNode, TEST_JWT_SECRET, tokenFor, type NodeProcess } from '../../dev/node-processes.js';

const exec = promisify(execFile);
const CLI = fileURLToPath(new URL('../../node/cli/chat-cli.ts', import.meta.url));
/** tsx's loader by its path, so the CLI runs from any working directory. */
const TSX = import.meta.resolve('tsx');

describe('the chat command-line client', () => {
  let node: NodeProcess;
  const chat = (...args: string[]) =>
    exec(process.execPath, ['--import', TSX, CLI, ...args], {
      env: { ...process.env, CHAT_URL: node.wsUrl, CHAT_JWT_SECRET: TEST_JWT_SECRET },
      timeout: 20_000,
    });

  beforeAll(async () => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.CHAT_REDIS_URL;
    delete env.CHAT_CASSANDRA_CONTACT_POINTS;
    node = await startNode(env);
  });
  afterAll(async () => {
    await stopNode(node);
  });

  it('mints a token the node accepts', async () => {
    const { stdout } = await chat('token', 'cli-user');
    const client = await ChatClient.connect(node.wsUrl, stdout.trim());
    expect(client.user).toBe('cli-user');
    client.close();
  });

  it('sends a message that a listening user receives, creates groups and syncs', async () => {
    const bob = await ChatClient.connect(node.wsUrl, await tokenFor('cli-bob'));
    const { stdout } = await chat('send', 'user:cli-bob', 'hello from the cli', '--user', 'cli-alice');
    const ack = JSON.parse(stdout) as { type: string; id: string };
    expect(ack.type).toBe('ack');
    expect(await bob.waitFor((frame) => frame.id === ack.id)).toMatchObject({ text: 'hello from the cli', from: 'cli-alice' });
    bob.close();
    expect(JSON.parse((await chat('group', 'create', 'cli-crew', '--user', 'cli-alice')).stdout)).toMatchObject({ type: 'group' });
    expect(JSON.parse((await chat('groups', '--user', 'cli-alice')).stdout)).toEqual(['cli-crew']);
    const synced = (await chat('sync', '--user', 'cli-bob')).stdout.trim().split('\n').map((line) => JSON.parse(line) as { id: string });
    expect(synced.map((message) => message.id)).toEqual([ack.id]);
  });

  it('keeps the cursor in a file: a second sync prints only what came since, each message once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chat-cli-'));
    const cursorFile = join(dir, 'carol.cursor');
    const lines = (stdout: string): { id: string }[] => stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as { id: string });
    try {
      const first = JSON.parse((await chat('send', 'user:cli-carol', 'one', '--user', 'cli-dave')).stdout) as { id: string };
      expect(lines((await chat('sync', '--user', 'cli-carol', '--cursor-file', cursorFile)).stdout).map((m) => m.id)).toEqual([first.id]);
      expect(readFileSync(cursorFile, 'utf8')).toMatch(/^c1\./);
      const second = JSON.parse((await chat('send', 'user:cli-carol', 'two', '--user', 'cli-dave')).stdout) as { id: string };
      const again = lines((await chat('sync', '--user', 'cli-carol', '--cursor-file', cursorFile)).stdout).map((m) => m.id);
      // The cursor may trail the newest message a little (never past one in flight), so the
      // first may come again; the second always comes, and nothing twice.
      expect(again).toContain(second.id);
      expect(new Set(again).size).toBe(again.length);
      for (const id of again) expect([first.id, second.id]).toContain(id);
      const { stderr } = await chat('sync', '--user', 'cli-carol');
      expect(stderr).toMatch(/^cursor: c1\./);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails with a clear message and exit code 1 on a bad target or a refused operation', async () => {
    await expect(chat('send', 'bob', 'x', '--user', 'cli-alice')).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('expected user:<id> or group:<name>') as unknown });
    await expect(chat('send', 'group:cli-crew', 'x', '--user', 'cli-outsider')).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('forbidden') as unknown });
    await expect(chat('send', 'user:cli-bob', '', '--user', 'cli-alice')).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('chat: text: a message needs some text') as unknown });
  });

  it('fails a send whose frame the node refuses by closing the socket (1009), rather than exiting 0 with nothing said', async () => {
    const bob = await ChatClient.connect(node.wsUrl, await tokenFor('cli-big-bob'));
    await expect(chat('send', 'user:cli-big-bob', 'a'.repeat(70_000), '--user', 'cli-alice')).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('the node closed the connection (1009, a frame was larger than the node accepts') as unknown,
    });
    // The refusal lost nothing else: the next send goes through and is the only message bob gets.
    const ack = JSON.parse((await chat('send', 'user:cli-big-bob', 'small', '--user', 'cli-alice')).stdout) as { id: string };
    expect(await bob.waitFor((frame) => frame.id === ack.id)).toMatchObject({ text: 'small' });
    expect(bob.frames.filter((frame) => frame.type === 'message')).toHaveLength(1);
    bob.close();
  });

  it('says why the node refused the token, from the body of the refusal, and listen does not retry it', async () => {
    await expect(chat('groups', '--token', 'not-a-jwt')).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/refused the connection: HTTP 401 \(unauthorized: .+\)/) as unknown });
    // listen retries what time can mend, not a bad token: it stops at once.
    await expect(chat('listen', '--token', 'not-a-jwt')).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/refused the connection: HTTP 401/) as unknown });
  });

  it('checks its arguments before it asks for credentials or connects, and a missing command is an error', async () => {
    const noCredentials = (...args: string[]) =>
      exec(process.execPath, ['--import', TSX, CLI, ...args], { env: { ...process.env, CHAT_URL: 'ws://127.0.0.1:1', CHAT_JWT_SECRET: '', CHAT_TOKEN: '' }, timeout: 20_000 });
    await expect(noCredentials('send', 'user:cli-bob')).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('chat send <user:ID|group:NAME> <text>') as unknown });
    await expect(noCredentials('history', 'user:cli-bob', '--limit', 'ten')).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('limit: a page is 1 to 200 messages') as unknown });
    await expect(noCredentials('groups', '--url', 'http://127.0.0.1:1')).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('--url: expected a ws:// or wss:// URL') as unknown });
    await expect(noCredentials()).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('chat: no command') as unknown });
    await expect(chat('token', 'cli-alice', '--ttl', 'soon')).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('--ttl takes a whole number') as unknown });
  });

  it('takes a relative cursor file from where `npm run chat` was typed (INIT_CWD), and from its own folder otherwise', async () => {
    const typedIn = mkdtempSync(join(tmpdir(), 'chat-cli-typed-'));
    const startedIn = mkdtempSync(join(tmpdir(), 'chat-cli-started-'));
    const syncInto = (env: NodeJS.ProcessEnv) =>
      exec(process.execPath, ['--import', TSX, CLI, 'sync', '--user', 'cli-erin', '--cursor-file', 'erin.cursor'], {
        cwd: startedIn,
        env: { ...process.env, CHAT_URL: node.wsUrl, CHAT_JWT_SECRET: TEST_JWT_SECRET, INIT_CWD: typedIn, ...env },
        timeout: 20_000,
      });
    try {
      await syncInto({ npm_lifecycle_event: 'chat' });
      expect(readFileSync(join(typedIn, 'erin.cursor'), 'utf8')).toMatch(/^c1\./);
      expect(existsSync(join(startedIn, 'erin.cursor'))).toBe(false);
      // Any other npm script's child inherits INIT_CWD too (this test runs under `npm test`): not ours to follow.
      await syncInto({ npm_lifecycle_event: 'test' });
      expect(readFileSync(join(startedIn, 'erin.cursor'), 'utf8')).toMatch(/^c1\./);
    } finally {
      rmSync(typedIn, { recursive: true, force: true });
      rmSync(startedIn, { recursive: true, force: true });
    }
  });
});

describe('chat listen across a drain, through a load balancer to two nodes', () => {
  let cluster: ChatCluster;
  let balancer: LoadBalancer;
  let url: string;

  beforeAll(async () => {
    cluster = await startChatCluster(testEnvironment(), 2);
    balancer = new LoadBalancer(cluster.nodes.map((node) => ({ host: '127.0.0.1', port: Number(new URL(node.url).port), readyUrl: `${node.url}/readyz` })));
    url = `ws://127.0.0.1:${String(await balancer.listen(0))}`;
  });
  afterAll(async () => {
    balancer.close();
    await cluster.stop();
  });

  it('reconnects when its node drains and prints every message once: before, during the gap and after', async () => {
    const env = { ...process.env, CHAT_URL: url, CHAT_JWT_SECRET: TEST_JWT_SECRET };
    // The sender goes to the node that stays, not through the balancer, which may still pick the draining one.
    let sendTo = url;
    const send = async (text: string): Promise<string> =>
      (JSON.parse((await exec(process.execPath, ['--import', TSX, CLI, 'send', 'user:cli-frank', text, '--user', 'cli-gina', '--url', sendTo], { env, timeout: 20_000 })).stdout) as { id: string }).id;
    const listener = spawn(process.execPath, ['--import', TSX, CLI, 'listen', '--user', 'cli-frank'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const frames: { type: string; node?: string; id?: string; text?: string }[] = [];
    let stderr = '';
    let partial = '';
    listener.stdout.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line !== '') frames.push(JSON.parse(line) as (typeof frames)[number]);
    });
    listener.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const until = async (done: () => boolean, what: string): Promise<void> => {
      const deadline = Date.now() + 20_000;
      while (!done()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; frames: ${JSON.stringify(frames)}; stderr: ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    const hellos = () => frames.filter((frame) => frame.type === 'hello');
    try {
      await until(() => hellos().length === 1, 'the first hello');
      const before = await send('before the drain');
      await until(() => frames.some((frame) => frame.id === before), 'the first message');
      const first = cluster.nodes.find((node) => node.id === hellos()[0]?.node);
      const staying = cluster.nodes.find((node) => node !== first);
      if (first === undefined || staying === undefined) throw new Error(`the listener is on no node of the cluster: ${JSON.stringify(hellos())}`);
      sendTo = staying.wsUrl;
      expect((await fetch(`${first.adminUrl}/drain`, { method: 'POST' })).status).toBe(202);
      // Sent while the listener is between sockets: the node asks it to wait before reconnecting.
      const during = await send('while it reconnects');
      await until(() => hellos().length === 2, 'the second hello');
      const after = await send('after the reconnect');
      await until(() => frames.some((frame) => frame.id === after), 'the last message');

      expect(hellos()[1]?.node).not.toBe(first.id);
      expect(frames.some((frame) => frame.type === 'drain')).toBe(true);
      const messages = frames.filter((frame) => frame.type === 'message').map((frame) => frame.id);
      expect(messages).toEqual([before, during, after]);
      expect(stderr).toMatch(/the node closed the connection \(1001, the node is going away \(draining\).*reconnecting in \d+ ms, as the node asked/);
    } finally {
      listener.kill('SIGINT');
    }
  });
});
