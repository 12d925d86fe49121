import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatClient } from '../support/chat-client.js';
import { startNode, stopNode, TEST_JWT_SECRET, tokenFor, type NodeProcess } from '../../dev/node-processes.js';

const exec = promisify(execFile);
const CLI = fileURLToPath(new URL('../../node/cli/chat-cli.ts', import.meta.url));

describe('the chat command-line client', () => {
  let node: NodeProcess;
  const chat = (...args: string[]) =>
    exec(process.execPath, ['--import', 'tsx', CLI, ...args], {
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
  });
});
