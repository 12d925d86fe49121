import { z } from 'zod';
import { EnvError } from './errors.js';
import { run } from './process.js';
import { slowStep } from './progress.js';
import { requireCommand } from './tools.js';

export interface GoBuild {
  /** What is being built, for progress lines. */
  what: string;
  /** A folder of this repository holding the pinning go.mod and go.sum. */
  moduleDir: string;
  /** Import paths; a main package builds a binary named after the last element of its path. */
  packages: readonly string[];
  outDir: string;
  ldflags?: string;
}

const GO_REMEDY = 'install the Go toolchain ≥ 1.26 and put go on PATH (Debian stable\'s golang package may be older)';

/**
 * Builds `packages` in one `go build`, so binaries that share packages compile them once.
 * Module hashes come from the committed go.sum; nothing is resolved afresh.
 */
export async function goBuild(build: GoBuild): Promise<void> {
  const { go, options } = goIn(build.moduleDir);

  let downloaded = 0;
  const dependencies = await slowStep(
    `${build.what}: fetching Go modules`,
    () =>
      run(go, ['list', '-deps', ...build.packages], {
        ...options,
        onLine: (line) => {
          if (line.startsWith('go: downloading')) downloaded += 1;
        },
      }),
    () => `${downloaded} modules downloaded`,
  );
  const total = dependencies.split('\n').filter((line) => line !== '' && !line.startsWith('go: ')).length;
  if (total === 0) throw new EnvError(`${build.what}: go list found no packages in ${build.moduleDir}`);

  let compiled = 0;
  const args = ['build', '-v', '-trimpath', '-o', `${build.outDir}/`];
  if (build.ldflags !== undefined) args.push('-ldflags', build.ldflags);
  await slowStep(
    `${build.what}: compiling`,
    () =>
      run(go, [...args, ...build.packages], {
        ...options,
        onLine: (line) => {
          if (/^[\w.\-/]+$/.test(line)) compiled += 1;
        },
      }),
    () => `${compiled} of at most ${total} packages compiled`,
  );
}

/**
 * Downloads `module` as pinned by the go.mod and go.sum in `moduleDir` (checked against the
 * go.sum, nothing resolved afresh); resolves with its folder in the module cache.
 */
export async function goModDownload(moduleDir: string, module: string): Promise<string> {
  const { go, options } = goIn(moduleDir);
  const output = await run(go, ['mod', 'download', '-json', module], options);
  const download = z.object({ Dir: z.string().optional(), Error: z.string().optional() }).parse(JSON.parse(output));
  if (download.Dir === undefined) throw new EnvError(`go mod download ${module}: ${download.Error ?? 'no folder'}`, GO_REMEDY);
  return download.Dir;
}

/** The go command and how to run it in a pinning module: offline from go.sum, no toolchain download. */
function goIn(moduleDir: string): { go: string; options: { cwd: string; env: NodeJS.ProcessEnv; remedy: string } } {
  const go = requireCommand('go', GO_REMEDY);
  // GOTOOLCHAIN=local: fail with a clear message rather than try to download a toolchain.
  const env = { ...process.env, CGO_ENABLED: '0', GOTOOLCHAIN: 'local', GOFLAGS: '-mod=readonly' };
  return { go, options: { cwd: moduleDir, env, remedy: GO_REMEDY } };
}
