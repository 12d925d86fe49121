import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed, onTestFinished } from 'vitest';
import { buildWebClient } from '../../web/build/bundle.js';
import { LoadBalancer } from '../../dev/env/load-balancer.js';
import { launchChromium } from '../support/browser.js';
import { startChatCluster, type ChatCluster } from '../support/chat-cluster.js';
import {
  chatWith,
  connectedNode,
  conversationButton,
  expectLogToEndWith,
  logTexts,
  openChat,
  openConversation,
  PHONE,
  screenshot,
  sendText,
  type ChatPage,
} from '../support/chat-pages.js';
import { testEnvironment } from '../support/env.js';
import { mintToken } from '../../node/auth/tokens.js';
import { startNode, stopNode, tokenFor, type NodeProcess } from '../../dev/node-processes.js';

// The web client's stories (issue 12), in a real Chromium, against three real chat nodes on
// Redis and Cassandra behind a least-connections load balancer, as `npm start` runs them.
// Every page is served by a node and talks to the cluster only through PROTOCOL.md.

/** What the tests read of a scrolling element (the tests' TypeScript has no DOM library). */
interface Scrollable {
  scrollHeight: number;
  scrollTop: number;
  clientHeight: number;
}

/** Polls until the assertion holds, long enough for a machine busy with other test files. */
function eventually<T>(read: () => T | Promise<T>) {
  return expect.poll(read, { timeout: 15_000, interval: 100 });
}

/** Sends per second per user on the node of the rate-limit story: a burst typed even on a busy machine exceeds it. */
const STRICT_MESSAGES_PER_SECOND = 1;

describe('the web client in a browser', () => {
  const env = testEnvironment();
  const run = randomBytes(3).toString('hex');
  const shots = join(tmpdir(), `chatcluster-web-${run}`);
  let cluster: ChatCluster;
  let browser: Browser;
  const balancers: LoadBalancer[] = [];
  const pages: ChatPage[] = [];

  beforeAll(async () => {
    mkdirSync(shots, { recursive: true });
    console.log(`[web] screenshots: ${shots}`);
    [cluster, browser] = await Promise.all([
      buildWebClient({ ifStale: true }).then(() =>
        startChatCluster(env, 3, { CHAT_DRAIN_SPREAD_MS: '1500' }),
      ),
      launchChromium(env.CHROMIUM_BIN),
    ]);
  }, 180_000);

  afterEach(async () => {
    // No page threw, and none was refused anything by its Content-Security-Policy.
    for (const chat of pages.splice(0)) {
      await chat.context.close();
      expect(chat.faults, chat.user).toEqual([]);
    }
  });

  afterAll(async () => {
    // Whatever started is stopped, also when beforeAll failed halfway.
    await (browser as Browser | undefined)?.close();
    for (const balancer of balancers) balancer.close();
    await (cluster as ChatCluster | undefined)?.stop();
  }, 120_000);

  /** A load balancer over the nodes alive now (three: one is added when fewer are left); its address. */
  async function entryPoint(): Promise<string> {
    let alive = cluster.nodes.filter((node) => node.child.exitCode === null && node.child.signalCode === null);
    while (alive.length < 3) {
      await cluster.addNode();
      alive = cluster.nodes.filter((node) => node.child.exitCode === null && node.child.signalCode === null);
    }
    const balancer = new LoadBalancer(alive.map((node) => ({ host: '127.0.0.1', port: Number(new URL(node.url).port), readyUrl: `${node.url}/readyz` })));
    balancers.push(balancer);
    return `http://127.0.0.1:${await balancer.listen(0)}`;
  }

  /** Opens a page for `user` at `baseUrl` (a node, or a load balancer); resolves once it is connected, with its node. */
  async function person(baseUrl: string, user: string, options: { phone?: boolean } = {}): Promise<{ chat: ChatPage; node: string }> {
    const chat = await openChat(browser, baseUrl, user, options.phone === true ? PHONE : undefined);
    pages.push(chat);
    onTestFailed(async () => {
      await screenshot(chat.page, shots, `failed-${user}`).catch(() => undefined);
    });
    return { chat, node: await connectedNode(chat.page) };
  }

  /** A node alive now other than `id`. */
  function nodeOtherThan(id: string): NodeProcess {
    const node = cluster.nodes.find((candidate) => candidate.id !== id && candidate.child.exitCode === null && candidate.child.signalCode === null);
    if (node === undefined) throw new Error(`no node alive besides ${id}`);
    return node;
  }

  function nodeNamed(id: string): NodeProcess {
    const node = cluster.nodes.find((candidate) => candidate.id === id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  it('two people on different nodes exchange direct and group messages', async () => {
    const alice = `alice-${run}`;
    const bob = `bob-${run}`;
    // Each page straight from a node of its own: the two are on different nodes for sure.
    const { chat: a, node: aliceNode } = await person(cluster.nodes[0]?.url ?? '', alice);
    const { chat: b, node: bobNode } = await person(nodeOtherThan(aliceNode).url, bob);
    expect(bobNode).not.toBe(aliceNode);
    // The token came in the fragment and is gone from the address bar; the page is under a strict CSP.
    expect(a.page.url()).not.toContain('token');
    const served = await fetch(`${cluster.nodes[0]?.url ?? ''}/`);
    expect(served.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(served.headers.get('content-security-policy')).toContain("script-src 'self'");

    await chatWith(a.page, bob);
    await sendText(a.page, 'Hi Bob, this is Alice.');
    await eventually(() => a.page.getByRole('log').locator('.message.own .delivery').last().textContent()).toBe('sent');

    // Bob sees the new conversation with one unread message, opens it, and answers.
    await eventually(() => conversationButton(b.page, alice).textContent()).toMatch(/1, 1 unread$/);
    // What a screen reader says for it.
    await eventually(() => b.page.getByRole('button', { name: new RegExp(`${alice}.*1 unread`) }).count()).toBe(1);
    await screenshot(b.page, shots, '1-unread-bob');
    await eventually(() => b.page.title()).toBe('(1) ChatCluster');
    await openConversation(b.page, alice);
    await expectLogToEndWith(b.page, ['Hi Bob, this is Alice.']);
    await eventually(() => b.page.title()).toBe('ChatCluster');
    await eventually(() => b.page.getByRole('img', { name: `${alice} is online` }).count()).toBeGreaterThan(0);
    await b.page.getByRole('textbox', { name: 'Message' }).pressSequentially('Hello ');
    await expect.poll(() => a.page.locator('.typing').textContent(), { timeout: 10_000 }).toBe(`${bob} is typing…`);
    await sendText(b.page, 'Hello Alice! Bob here.');
    await expectLogToEndWith(a.page, ['Hi Bob, this is Alice.', 'Hello Alice! Bob here.']);
    await screenshot(b.page, shots, '1-direct-bob');

    // A group: Alice creates it, Bob joins by name, both write, both see the members.
    const group = `team-${run}`;
    await a.page.getByRole('textbox', { name: 'Group name' }).fill(group);
    await a.page.getByRole('button', { name: 'Create' }).click();
    await eventually(() => a.page.getByRole('heading', { level: 2 }).textContent()).toBe(`#${group}`);
    await b.page.getByRole('textbox', { name: 'Group name' }).fill(group);
    await b.page.getByRole('button', { name: 'Join' }).click();
    await eventually(() => b.page.getByRole('heading', { level: 2 }).textContent()).toBe(`#${group}`);
    await sendText(a.page, 'Welcome to the team channel.');
    await expectLogToEndWith(b.page, ['Welcome to the team channel.']);
    await sendText(b.page, 'Glad to be here.');
    await expectLogToEndWith(a.page, ['Welcome to the team channel.', 'Glad to be here.']);
    await a.page.getByRole('button', { name: 'Members' }).click();
    await eventually(() => a.page.getByRole('list', { name: 'Members' }).getByRole('listitem').allTextContents()).toEqual([alice, bob].sort());
    await screenshot(a.page, shots, '1-group-alice');
    await b.page.getByRole('button', { name: 'Leave' }).click();
    await eventually(() => conversationButton(b.page, `#${group}`).count()).toBe(0);
    await a.page.getByRole('button', { name: 'Members' }).click();
    await a.page.getByRole('button', { name: 'Members' }).click();
    await eventually(() => a.page.getByRole('list', { name: 'Members' }).getByRole('listitem').allTextContents()).toEqual([alice]);
  });

  it('a person who was offline comes back and sees what was sent meanwhile, in order, once', async () => {
    const alice = `carol-${run}`;
    const bob = `dave-${run}`;
    const { chat: a, node: aliceNode } = await person(cluster.nodes[0]?.url ?? '', alice);
    // Dave reads on a phone.
    const { chat: b } = await person(nodeOtherThan(aliceNode).url, bob, { phone: true });
    await chatWith(a.page, bob);
    await sendText(a.page, 'Are you there?');
    await openConversation(b.page, alice);
    await expectLogToEndWith(b.page, ['Are you there?']);

    await b.context.setOffline(true);
    await expect.poll(() => b.page.getByRole('status').textContent(), { timeout: 15_000 }).toMatch(/^Connection lost/);
    const cursors = b.frames.flatMap(({ direction, frame }) =>
      direction === 'received' && (frame.type === 'sync' || frame.type === 'message') && typeof frame.cursor === 'string' ? [frame.cursor] : [],
    );
    const syncsBefore = b.frames.filter(({ direction, frame }) => direction === 'sent' && frame.type === 'sync').length;
    await expect.poll(() => a.page.getByRole('img', { name: `${bob} is offline` }).count(), { timeout: 15_000 }).toBeGreaterThan(0);
    const missed = ['First while you were away', 'Second while you were away', 'Third while you were away'];
    for (const text of missed) await sendText(a.page, text);
    await expectLogToEndWith(a.page, ['Are you there?', ...missed]);
    await b.context.setOffline(false);
    await connectedNode(b.page);
    await expectLogToEndWith(b.page, ['Are you there?', ...missed]);
    // It resumed from the last cursor it had received, not from the start.
    const resumed = b.frames.filter(({ direction, frame }) => direction === 'sent' && frame.type === 'sync')[syncsBefore];
    expect(resumed?.frame.since).toBe(cursors.at(-1));
    expect(cursors.at(-1)).toBeDefined();
    await screenshot(b.page, shots, '2-back-online-phone');
  });

  it('the node a page is on is killed: the page reconnects to another node and shows what it missed', async () => {
    const alice = `erin-${run}`;
    const bob = `frank-${run}`;
    const { chat: b, node: bobNode } = await person(await entryPoint(), bob);
    const { chat: a } = await person(nodeOtherThan(bobNode).url, alice);
    await chatWith(a.page, bob);
    await sendText(a.page, 'Before the crash');
    await openConversation(b.page, alice);
    await expectLogToEndWith(b.page, ['Before the crash']);

    await stopNode(nodeNamed(bobNode), 'SIGKILL');
    const missed = ['During the outage 1', 'During the outage 2', 'During the outage 3'];
    for (const text of missed) await sendText(a.page, text);
    const newNode = await connectedNode(b.page, 60_000);
    expect(newNode).not.toBe(bobNode);
    await expectLogToEndWith(b.page, ['Before the crash', ...missed]);
    await sendText(b.page, 'Back, on another node');
    await expectLogToEndWith(a.page, ['Before the crash', ...missed, 'Back, on another node']);
    await screenshot(b.page, shots, '3-after-node-killed');
  });

  it('a draining node moves its pages to other nodes', async () => {
    const alice = `grace-${run}`;
    const bob = `heidi-${run}`;
    const { chat: b, node: bobNode } = await person(await entryPoint(), bob);
    const { chat: a } = await person(nodeOtherThan(bobNode).url, alice);
    await chatWith(a.page, bob);
    await sendText(a.page, 'Before the drain');
    await openConversation(b.page, alice);
    await expectLogToEndWith(b.page, ['Before the drain']);

    const drained = await fetch(`${nodeNamed(bobNode).adminUrl}/drain`, { method: 'POST' });
    expect(drained.ok).toBe(true);
    // The node's drain frame reaches the page, which says it is moving (the screenshot), then moves.
    await expect.poll(() => b.frames.some(({ direction, frame }) => direction === 'received' && frame.type === 'drain'), { timeout: 10_000, interval: 10 }).toBe(true);
    await screenshot(b.page, shots, '4-draining');
    const newNode = await connectedNode(b.page, 60_000);
    expect(newNode).not.toBe(bobNode);
    await sendText(a.page, 'After the drain');
    await expectLogToEndWith(b.page, ['Before the drain', 'After the drain']);
    await screenshot(b.page, shots, '4-after-drain');
  });

  it('an oversized message and a rate-limited burst show their errors, and a retry sends once', async () => {
    const alice = `ivan-${run}`;
    // A node of the same cluster that allows one message per second and user.
    const strict = await startNode({ ...cluster.env, CHAT_MESSAGES_PER_SECOND: String(STRICT_MESSAGES_PER_SECOND) }, `strict-${run}`);
    onTestFinished(async () => {
      await stopNode(strict);
    });
    const { chat: a } = await person(strict.url, alice);
    await chatWith(a.page, `judy-${run}`);

    // Over the node's 64 KiB frame limit: the node closes the socket (1009); the page says why.
    await sendText(a.page, 'x'.repeat(70_000));
    const failed = a.page.getByRole('log').locator('.message.failed');
    await expect.poll(() => failed.first().textContent(), { timeout: 15_000 }).toContain('Message too large');
    await eventually(() => a.page.getByRole('alert').textContent()).toContain('Message too large');
    await connectedNode(a.page);
    await failed.first().getByRole('button', { name: 'Discard' }).click();

    // Faster than the node's per-user rate: the excess sends fail in words and are offered for retry.
    const burst = Array.from({ length: 12 }, (_, index) => `Burst message ${index + 1}`);
    for (const text of burst) await sendText(a.page, text);
    await expect.poll(() => failed.count(), { timeout: 15_000 }).toBeGreaterThan(0);
    await expect.poll(() => a.page.getByRole('log').locator('.message.sending').count(), { timeout: 15_000 }).toBe(0);
    await eventually(() => failed.first().textContent()).toContain('You are sending too fast');
    await screenshot(a.page, shots, '5-errors');

    // Retrying each refused message (same idem) sends it; every burst message then shows once.
    while ((await failed.count()) > 0) {
      await new Promise((resolve) => setTimeout(resolve, 1_000 / STRICT_MESSAGES_PER_SECOND + 50));
      await failed.first().getByRole('button', { name: 'Retry' }).click();
      await expect.poll(() => a.page.getByRole('log').locator('.message.sending').count(), { timeout: 15_000 }).toBe(0);
    }
    const shown = await a.page.getByRole('log').locator('.message .text').allTextContents();
    expect([...shown].sort()).toEqual([...burst].sort());
    // Each message went out under one idempotency key, however often it was sent.
    for (const text of burst) {
      const keys = new Set(a.frames.flatMap(({ direction, frame }) => (direction === 'sent' && frame.type === 'send' && frame.text === text ? [frame.idem] : [])));
      expect(keys.size, text).toBe(1);
    }
    await screenshot(a.page, shots, '5-after-retries');
  });

  it('a long group history opens at its newest messages and pages upward on request', async () => {
    const group = `history-${run}`;
    const alive = cluster.nodes.filter((node) => node.child.exitCode === null && node.child.signalCode === null);
    const senders = Array.from({ length: 5 }, (_, index) => `writer${index}-${run}`);
    const call = async (user: string, node: NodeProcess, path: string, body?: unknown): Promise<void> => {
      const response = await fetch(`${node.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await tokenFor(user)}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      expect(response.ok, `${path}: ${response.status} ${await response.text()}`).toBe(true);
    };
    const first = alive[0];
    if (first === undefined) throw new Error('no node alive');
    await call(senders[0] ?? '', first, '/v1/groups', { name: group });
    for (const sender of senders.slice(1)) await call(sender, first, `/v1/groups/${group}/join`);
    // 60 messages from 5 people through every node: within each person's per-node rate (20 a second).
    const texts = Array.from({ length: 60 }, (_, index) => `History line ${String(index + 1).padStart(2, '0')}`);
    for (const [index, text] of texts.entries()) {
      const node = alive[index % alive.length] ?? first;
      await call(senders[Math.floor(index / alive.length) % senders.length] ?? '', node, '/v1/messages', { to: { group }, text });
    }

    const { chat: reader } = await person(first.url, `reader-${run}`);
    await reader.page.getByRole('textbox', { name: 'Group name' }).fill(group);
    await reader.page.getByRole('button', { name: 'Join' }).click();
    // The newest page (50), oldest of them at the top, the newest at the bottom and in view.
    await expect.poll(() => logTexts(reader.page), { timeout: 15_000 }).toEqual(texts.slice(10));
    const log = reader.page.getByRole('log');
    await eventually(() => log.evaluate((element: Scrollable) => element.scrollHeight - element.scrollTop - element.clientHeight)).toBeLessThan(5);
    await screenshot(reader.page, shots, '6-history-newest');
    await reader.page.getByRole('button', { name: 'Load older messages' }).click();
    await eventually(() => logTexts(reader.page)).toEqual(texts);
    await eventually(() => reader.page.getByRole('button', { name: 'Load older messages' }).count()).toBe(0);
    await log.evaluate((element: Scrollable) => {
      element.scrollTop = 0;
    });
    await screenshot(reader.page, shots, '6-history-oldest');
  });

  it('a person signs in by pasting a token; one the cluster did not sign is refused in words', async () => {
    const user = `kim-${run}`;
    const context = await browser.newContext({ viewport: PHONE });
    const page = await context.newPage();
    pages.push({ user, context, page, faults: [], frames: [] });
    const node = cluster.nodes.find((candidate) => candidate.child.exitCode === null && candidate.child.signalCode === null);
    await page.goto(`${node?.url ?? ''}/`);
    const signIn = async (token: string): Promise<void> => {
      await page.getByRole('textbox', { name: 'Token' }).fill(token);
      await page.getByRole('button', { name: 'Sign in' }).click();
    };
    await signIn(await mintToken('another-cluster-secret-0123456789abcdef', user, 3600));
    await eventually(() => page.getByRole('alert').textContent()).toContain('the node refused this token');
    await screenshot(page, shots, '7-sign-in-refused');
    await signIn(await tokenFor(user));
    expect(await connectedNode(page)).toBe(node?.id);
    // The tab keeps the token (session storage): a reload signs in again by itself.
    await page.reload();
    expect(await connectedNode(page)).toBe(node?.id);
    await screenshot(page, shots, '7-signed-in-phone');
  });
});
