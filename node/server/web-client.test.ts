import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { builtWebClientDir, webClient, WEB_CLIENT_CSP } from './web-client.js';

const servers: Server[] = [];
const dirs: string[] = [];

async function serve(root: string | undefined): Promise<string> {
  const app = express();
  app.use(webClient(root));
  const server = createServer(app);
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(() => {
  for (const server of servers.splice(0)) server.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('the web client’s static files', () => {
  it('are served at / under a strict Content-Security-Policy', async () => {
    const root = mkdtempSync(join(tmpdir(), 'web-client-'));
    dirs.push(root);
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>ChatCluster</title>');
    writeFileSync(join(root, 'app.js'), 'export {};');
    const url = await serve(root);
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('ChatCluster');
    expect(page.headers.get('content-security-policy')).toBe(WEB_CLIENT_CSP);
    expect(WEB_CLIENT_CSP).toMatch(/default-src 'none'/);
    expect(WEB_CLIENT_CSP).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const script = await fetch(`${url}/app.js`);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
  });

  it('answer 404 in words when the client was not built', async () => {
    const url = await serve(join(tmpdir(), 'no-such-web-client'));
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(404);
    expect(await page.text()).toContain('npm run build');
  });

  it('are looked for in dist/web beside the package.json above the module, from sources or compiled', () => {
    const root = mkdtempSync(join(tmpdir(), 'web-client-package-'));
    dirs.push(root);
    writeFileSync(join(root, 'package.json'), '{}');
    expect(builtWebClientDir(pathToFileURL(join(root, 'node/server/web-client.ts')).href)).toBe(join(root, 'dist/web'));
    expect(builtWebClientDir(pathToFileURL(join(root, 'dist/node/server/web-client.js')).href)).toBe(join(root, 'dist/web'));
  });
});
