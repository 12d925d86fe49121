import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Router } from 'express';

/**
 * What the page may load: its own scripts, styles and sockets (same origin), nothing
 * inline, nothing from elsewhere, never framed. `connect-src 'self'` covers ws(s):// to
 * the same host.
 */
export const WEB_CLIENT_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Where the built client is: `dist/web` beside the package.json above this module, which
 * is the same folder whether the node runs from its sources (tsx) or compiled (dist/, the image).
 */
export function builtWebClientDir(moduleUrl: string = import.meta.url): string | undefined {
  let dir = dirname(fileURLToPath(moduleUrl));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'dist', 'web');
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Serves the web client's static files at `/` with a strict Content-Security-Policy. */
export function webClient(root: string | undefined = builtWebClientDir()): Router {
  const router = express.Router();
  router.use((_req, res, next) => {
    res.set({
      'Content-Security-Policy': WEB_CLIENT_CSP,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cross-Origin-Opener-Policy': 'same-origin',
    });
    next();
  });
  if (root !== undefined && existsSync(join(root, 'index.html'))) {
    // The page itself is revalidated every time, so a new client reaches browsers at once.
    router.use(express.static(root, { index: 'index.html', cacheControl: true, maxAge: 0, fallthrough: true }));
  } else {
    router.get('/', (_req, res) => {
      res.status(404).type('text/plain').send('The web client is not built: run `npm run build` (or `npm run -s build:web`).\n');
    });
  }
  return router;
}
