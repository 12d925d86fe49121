/**
 * Builds the web client into dist/web/: the page, its stylesheet and one bundled ES module
 * (Preact and the client's code). Run by `npm run build`, `npm start` and the browser
 * tests; the output is never committed. `--if-stale` skips the build when dist/web is
 * newer than every file the last bundle was made from (the node's modules it imports too).
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const WEB = fileURLToPath(new URL('..', import.meta.url));
/** Where the node serves the client from (node/server/web-client.ts finds it there). */
export const WEB_OUTPUT = fileURLToPath(new URL('../../dist/web', import.meta.url));
/** The files the last bundle was made from (esbuild's metafile), beside dist/web so the node never serves it. */
const BUNDLE_INPUTS = fileURLToPath(new URL('../../dist/web-inputs.json', import.meta.url));

function newestChange(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((entry) => newestChange(join(path, entry))));
}

function isFresh(): boolean {
  try {
    const inputs = JSON.parse(readFileSync(BUNDLE_INPUTS, 'utf8')) as string[];
    const newestInput = Math.max(newestChange(WEB), ...inputs.map((input) => newestChange(input)));
    return statSync(join(WEB_OUTPUT, 'app.js')).mtimeMs >= newestInput;
  } catch {
    // No record of the inputs, or one of them is gone: build.
    return false;
  }
}

/** Bundles the client unless (with `ifStale`) the output is newer than its sources. */
export async function buildWebClient(options: { ifStale?: boolean } = {}): Promise<string> {
  if (options.ifStale === true && isFresh()) return WEB_OUTPUT;
  mkdirSync(WEB_OUTPUT, { recursive: true });
  const result = await build({
    metafile: true,
    entryPoints: [join(WEB, 'src/main.tsx')],
    outfile: join(WEB_OUTPUT, 'app.js'),
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: join(WEB, 'tsconfig.json'),
    logLevel: 'warning',
  });
  writeFileSync(BUNDLE_INPUTS, JSON.stringify(Object.keys(result.metafile.inputs).map((input) => resolve(input))));
  copyFileSync(join(WEB, 'index.html'), join(WEB_OUTPUT, 'index.html'));
  copyFileSync(join(WEB, 'app.css'), join(WEB_OUTPUT, 'app.css'));
  return WEB_OUTPUT;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildWebClient({ ifStale: process.argv.includes('--if-stale') });
}
