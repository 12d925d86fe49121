/**
 * The runtime images' file sets, reproduced without Docker: the build stage's context
 * copies (filtered by .dockerignore) and npm commands are replayed in a temporary folder,
 * then each target's COPY --from lines assemble its app folder. The entry points then run
 * there with the image's ENTRYPOINT, CMD and ENV, on production dependencies only, with no
 * node_modules above them to fall back on. The Dockerfile is the only list of what is
 * copied; this test reads it rather than keeping a second one.
 *
 * Not reproduced: the base image itself (this runs on the host's Node.js) and its user.
 */
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../dev/env/ports.js';
import {
  copyPaths,
  DOCKERIGNORE_PATH,
  dockerignoreMatcher,
  inImage,
  readRepositoryDockerfile,
  REPO_ROOT,
  stageChain,
  stepsOf,
  workdirOf,
  type Stage,
} from '../support/dockerfile.js';

const run = promisify(execFile);
const dockerfile = readRepositoryDockerfile();
const ignored = dockerignoreMatcher(readFileSync(DOCKERIGNORE_PATH, 'utf8'));
const JWT_SECRET = 'image-test-secret-0123456789abcdef0123';

/** A folder standing for an image's filesystem at its working directory. */
interface Root {
  dir: string;
  workdir: string;
}

/** Where an absolute or workdir-relative image path lies on the host. */
function onHost(root: Root, path: string): string {
  const inside = inImage(root.workdir, path);
  const rel = relative(root.workdir, inside);
  if (rel.startsWith('..')) throw new Error(`${path} lies outside the working directory ${root.workdir}; the reproduction maps only that folder`);
  // A trailing / means "into this folder" to COPY; keep it.
  return join(root.dir, rel) + (path.endsWith('/') ? '/' : '');
}

/** COPY semantics: a folder's contents go to the destination; a file into a destination ending in / keeps its name. */
function copyInto(source: string, destination: string, filter?: (path: string) => boolean): void {
  const target = destination.endsWith('/') && !statSync(source).isDirectory() ? join(destination, basename(source)) : destination;
  mkdirSync(dirname(target), { recursive: true });
  cpSync(source, target, { recursive: true, verbatimSymlinks: true, ...(filter === undefined ? {} : { filter }) });
}

/** Copies one COPY step's sources from the build context, minus what .dockerignore keeps out. */
function copyFromContext(step: Stage['steps'][number], root: Root): void {
  const { sources, destination } = copyPaths(step);
  for (const source of sources) {
    const from = join(REPO_ROOT, source);
    if (ignored(source) || !existsSync(from)) throw new Error(`COPY ${source} (line ${step.line}): not in the build context`);
    copyInto(from, onHost(root, destination), (path) => !ignored(relative(REPO_ROOT, path)));
  }
}

/**
 * The build stage's RUN lines, which must be npm commands (after `NAME=value` assignments);
 * run here with the npm cache preferred. An assignment naming a BuildKit secret mount
 * (/run/secrets/...) is dropped: the host's npm already trusts the host's CAs.
 */
async function replayRun(step: Stage['steps'][number], root: Root): Promise<void> {
  for (const command of step.text.split('&&').map((part) => part.trim())) {
    const words = command.split(/\s+/);
    const assignments = words.slice(0, Math.max(0, words.findIndex((word) => !/^\w+=/.test(word))));
    const [program, ...args] = words.slice(assignments.length);
    if (program !== 'npm') throw new Error(`RUN ${command} (line ${step.line}): this test replays npm commands only`);
    const variables: Record<string, string> = {};
    for (const word of assignments) {
      const [name = '', value = ''] = word.split(/=(.*)/s);
      if (!value.startsWith('/run/secrets/')) variables[name] = value;
    }
    await run('npm', args, { cwd: root.dir, env: { PATH: process.env.PATH, HOME: process.env.HOME, npm_config_prefer_offline: 'true', ...variables }, maxBuffer: 16 * 1024 * 1024 });
  }
}

/** Replays a stage whose base is an image: context copies and npm commands. */
async function replayBuildStage(stage: Stage, dir: string): Promise<Root> {
  const root: Root = { dir, workdir: workdirOf([stage]) };
  for (const step of stage.steps) {
    if (step.keyword === 'COPY' && step.copyFrom === undefined) copyFromContext(step, root);
    else if (step.keyword === 'RUN') await replayRun(step, root);
    else if (step.keyword === 'COPY' || step.keyword === 'ADD') throw new Error(`line ${step.line}: ${step.keyword} ${step.text} is not reproduced by this test`);
  }
  return root;
}

/** Assembles a target's app folder from its chain's COPY lines. */
function assembleTarget(target: string, built: Map<string, Root>, dir: string): Root {
  const chain = stageChain(dockerfile, target);
  const root: Root = { dir, workdir: workdirOf(chain) };
  for (const step of stepsOf(chain, 'COPY')) {
    if (step.copyFrom === undefined) {
      copyFromContext(step, root);
      continue;
    }
    const from = built.get(step.copyFrom);
    if (from === undefined) throw new Error(`COPY --from=${step.copyFrom} (line ${step.line}): no such replayed stage`);
    const { sources, destination } = copyPaths(step);
    for (const source of sources) copyInto(onHost(from, source), onHost(root, destination));
  }
  if (stepsOf(chain, 'RUN').length > 0) throw new Error(`${target}: RUN in a runtime stage is not reproduced by this test`);
  return root;
}

/** The process the container would start: ENTRYPOINT + (args or CMD), the image's ENV, node as this Node.js. */
function startContainer(target: string, root: Root, env: Record<string, string>, args?: string[]): { exited: Promise<number | null>; output: string[]; stop: () => void } {
  const chain = stageChain(dockerfile, target);
  const entrypoint = stepsOf(chain, 'ENTRYPOINT').at(-1)?.json ?? [];
  const command = [...entrypoint, ...(args ?? stepsOf(chain, 'CMD').at(-1)?.json ?? [])];
  if (command[0] !== 'node') throw new Error(`${target}: expected the entry point to start node, got ${command.join(' ')}`);
  const imageEnv = Object.fromEntries(stepsOf(chain, 'ENV').flatMap((step) => step.properties.map(([name, value]) => [name, value ?? ''])));
  const child = spawn(process.execPath, command.slice(1).map((arg) => (arg.startsWith('/') ? onHost(root, arg) : arg)), {
    cwd: root.dir,
    env: { PATH: process.env.PATH, ...imageEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { resolve(code); }));
  return { exited, output, stop: () => child.kill('SIGTERM') };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)));
}

describe('the runtime images’ file sets, reproduced without Docker', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'chatcluster-image-'));
  const roots = new Map<string, Root>();

  beforeAll(async () => {
    // No node_modules may sit above the scratch folder, or module resolution would find it.
    expect(relative(REPO_ROOT, scratch).startsWith('..')).toBe(true);
    const started = Date.now();
    const built = new Map<string, Root>();
    const sources = new Set(['node', 'operator'].flatMap((target) => stepsOf(stageChain(dockerfile, target), 'COPY').flatMap((step) => (step.copyFrom === undefined ? [] : [step.copyFrom]))));
    for (const name of sources) {
      const stage = stageChain(dockerfile, name).at(-1);
      if (stage?.parent !== undefined || stage === undefined) throw new Error(`stage ${name}: this test replays stages built on an image only`);
      built.set(name, await replayBuildStage(stage, join(scratch, name)));
    }
    const builtAt = Date.now();
    for (const target of ['node', 'operator']) roots.set(target, assembleTarget(target, built, join(scratch, target)));
    const sizes = [...roots].map(([target, root]) => `${target} ${(filesUnder(root.dir).reduce((sum, path) => sum + statSync(join(root.dir, path)).size, 0) / 2 ** 20).toFixed(0)} MiB`);
    console.log(`image reproduction: build stage ${((builtAt - started) / 1000).toFixed(1)} s, runtime file sets ${((Date.now() - builtAt) / 1000).toFixed(1)} s (${sizes.join(', ')} over the base image)`);
  }, 300_000);

  afterAll(() => {
    rmSync(scratch, { recursive: true, force: true });
  });

  const rootOf = (target: string): Root => {
    const root = roots.get(target);
    if (root === undefined) throw new Error(`${target} was not assembled`);
    return root;
  };

  it('the node image serves on embedded defaults and drains on SIGTERM', async () => {
    const [port, adminPort] = await Promise.all([freePort(), freePort()]);
    const container = startContainer('node', rootOf('node'), { CHAT_JWT_SECRET: JWT_SECRET, CHAT_PORT: String(port), CHAT_ADMIN_PORT: String(adminPort), CHAT_NODE_ID: 'image-test' });
    let exitCode: number | null | undefined;
    void container.exited.then((code) => (exitCode = code));
    try {
      const deadline = Date.now() + 30_000;
      let status = 0;
      while (status !== 200) {
        if (exitCode !== undefined) throw new Error(`the node exited ${String(exitCode)}:\n${container.output.join('')}`);
        if (Date.now() > deadline) throw new Error(`no 200 from /readyz in 30 s:\n${container.output.join('')}`);
        status = await fetch(`http://127.0.0.1:${port}/readyz`).then((response) => response.status, () => 0);
        if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect((await fetch(`http://127.0.0.1:${adminPort}/metrics`)).status).toBe(200);
      expect(container.output.join('')).toMatch(/embedded/i);
    } finally {
      container.stop();
    }
    expect(await container.exited).toBe(0);
  });

  it('the node image runs the migration with args: [migrate] (and names the missing Cassandra setting)', async () => {
    const container = startContainer('node', rootOf('node'), {}, ['migrate']);
    expect(await container.exited).toBe(1);
    expect(container.output.join('')).toContain('CHAT_CASSANDRA_CONTACT_POINTS');
  });

  it('the operator image loads its whole module graph and exits 1 naming a bad variable', async () => {
    const container = startContainer('operator', rootOf('operator'), { HEALTH_PORT: 'notaport' });
    expect(await container.exited).toBe(1);
    const output = container.output.join('');
    expect(output).toContain('invalid configuration');
    expect(output).toContain('HEALTH_PORT');
  });

  it('the operator image has the CRD where its compiled modules look for it', () => {
    const root = rootOf('operator');
    const entry = stepsOf(stageChain(dockerfile, 'operator'), 'ENTRYPOINT').at(-1)?.json?.[1] ?? '';
    const crd = fileURLToPath(new URL('../../crds/chatcluster.yaml', pathToFileURL(onHost(root, entry))));
    expect(readFileSync(crd, 'utf8')).toBe(readFileSync(join(REPO_ROOT, 'crds/chatcluster.yaml'), 'utf8'));
  });

  it('the operator image’s own CRD lookup (operator/crd/upgrade.ts) finds and parses the shipped CRD', async () => {
    const root = rootOf('operator');
    const module = pathToFileURL(join(root.dir, 'dist/operator/crd/upgrade.js')).href;
    const script = `const { readOwnCrd } = await import(${JSON.stringify(module)}); console.log(readOwnCrd().version);`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: root.dir, env: { PATH: process.env.PATH, NODE_ENV: 'production' } });
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('the runtime images hold no dev-only packages, no TypeScript sources or tests, and only their own entry point', () => {
    // The lockfile marks what only the dev dependencies need ("dev": true); e.g. @types/node
    // is not among them, as @kubernetes/client-node depends on it.
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const devOnly = Object.entries(lock.packages).flatMap(([path, entry]) => (entry.dev === true ? [path] : []));
    expect(devOnly).toContain('node_modules/typescript');
    for (const target of ['node', 'operator']) {
      const root = rootOf(target);
      expect(devOnly.filter((path) => existsSync(join(root.dir, path))), target).toEqual([]);
      const ownFiles = filesUnder(root.dir).filter((path) => !path.startsWith('node_modules'));
      expect(ownFiles.filter((path) => path.endsWith('.ts') || /\.test\.js$/.test(path)), target).toEqual([]);
      expect(ownFiles.some((path) => path.startsWith(join('dist', target === 'node' ? 'operator' : 'node'))), target).toBe(false);
    }
  });
});
