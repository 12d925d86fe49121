import { join } from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { expect } from 'vitest';
import { tokenFor } from '../../dev/node-processes.js';

/** One person using the web client: a browser context of their own (own storage), one page. */
export interface ChatPage {
  user: string;
  context: BrowserContext;
  page: Page;
  /** Uncaught errors in the page and Content-Security-Policy violations: a working page has none. */
  faults: string[];
  /** Every frame the page's sockets sent and received, parsed, in order. */
  frames: { direction: 'sent' | 'received'; frame: { type: string } & Record<string, unknown> }[];
}

export const PHONE = { width: 390, height: 780 } as const;
export const DESKTOP = { width: 1100, height: 700 } as const;

/** Opens the client at `baseUrl` signed in as `user` through a `#token=` link, as `npm start` prints it. */
export async function openChat(browser: Browser, baseUrl: string, user: string, viewport: { width: number; height: number } = DESKTOP): Promise<ChatPage> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const chat: ChatPage = { user, context, page, faults: [], frames: [] };
  page.on('pageerror', (error) => chat.faults.push(`uncaught: ${error.message}`));
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) chat.faults.push(message.text());
  });
  page.on('websocket', (socket) => {
    const record = (direction: 'sent' | 'received') => (data: { payload: string | Buffer }) => {
      chat.frames.push({ direction, frame: JSON.parse(data.payload.toString()) as { type: string } & Record<string, unknown> });
    };
    socket.on('framesent', record('sent'));
    socket.on('framereceived', record('received'));
  });
  await page.goto(`${baseUrl}/#token=${await tokenFor(user)}`);
  return chat;
}

/** Waits until the page says it is connected and returns the node it names. */
export async function connectedNode(page: Page, timeout = 30_000): Promise<string> {
  const status = page.getByRole('status');
  await expect.poll(() => status.textContent(), { timeout, interval: 100 }).toMatch(/^Connected to /);
  return ((await status.textContent()) ?? '').replace(/^Connected to /, '');
}

/** Opens (or starts) the direct conversation with `other`. */
export async function chatWith(page: Page, other: string): Promise<void> {
  await page.getByRole('textbox', { name: 'Chat with user' }).fill(other);
  await page.getByRole('button', { name: 'Chat', exact: true }).click();
}

/** Opens a conversation from the list by its title (a user id, or `#group`). */
export async function openConversation(page: Page, title: string): Promise<void> {
  await conversationButton(page, title).click();
}

export function conversationButton(page: Page, title: string): Locator {
  return page.getByRole('list', { name: 'Conversations' }).getByRole('button').filter({ hasText: title });
}

/** Types a message in the composer and presses Enter. */
export async function sendText(page: Page, text: string): Promise<void> {
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill(text);
  await box.press('Enter');
}

/** The texts of the messages in the open conversation's log, top to bottom. */
export function logTexts(page: Page): Promise<string[]> {
  return page.getByRole('log').locator('.message .text').allTextContents();
}

/** Waits until the open conversation's log holds exactly `texts` among its messages' texts, in this order, each once. */
export async function expectLogToEndWith(page: Page, texts: readonly string[], timeout = 30_000): Promise<void> {
  await expect
    .poll(
      async () => {
        const shown = await logTexts(page);
        return shown.filter((text) => texts.includes(text));
      },
      { timeout, interval: 100 },
    )
    .toEqual(texts);
}

/** Saves a screenshot of the page under `dir` and returns its path. */
export async function screenshot(page: Page, dir: string, name: string): Promise<string> {
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path });
  return path;
}
