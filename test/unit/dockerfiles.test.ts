/**
 * The Dockerfile (targets `node` and `operator`) and .dockerignore: no problems from the
 * dockerfile-utils linter, and the properties a linter does not check: multi-stage, pinned
 * bases, a numeric non-root user, production mode, exec-form entry points that Kubernetes
 * `args` can extend, the ports the code listens on, OCI labels, the CRD beside the
 * operator's modules, no sources or secrets in the runtime images.
 */
import { readFileSync } from 'node:fs';
import { validate, ValidationSeverity, type ValidatorSettings } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import { loadNodeConfig } from '../../node/config.js';
import { CHATCLUSTER_API_VERSION, CHATCLUSTER_KIND, parseChatClusterSpec, type ChatCluster } from '../../common/chatcluster.js';
import { loadOperatorConfig } from '../../operator/config.js';
import { desiredCassandra } from '../../operator/desired/dependencies.js';
import { desiredRedis } from '../../operator/desired/redis.js';
import { versions } from '../../dev/env/versions.js';
import {
  copyPaths,
  DOCKERIGNORE_PATH,
  dockerignoreMatcher,
  inImage,
  parseDockerfile,
  readRepositoryDockerfile,
  REPO_ROOT,
  stageChain,
  stepsOf,
  workdirOf,
  type Stage,
} from '../support/dockerfile.js';

const dockerfile = readRepositoryDockerfile();
const packageJson = JSON.parse(readFileSync(`${REPO_ROOT}package.json`, 'utf8')) as { version: string; license: string; engines: { node: string } };
const TARGETS = ['node', 'operator'] as const;
/** A ChatCluster with the default managed Redis and Cassandra, for the operator's dependency objects. */
const sampleCluster: ChatCluster = {
  apiVersion: CHATCLUSTER_API_VERSION,
  kind: CHATCLUSTER_KIND,
  metadata: { name: 'sample', namespace: 'default', uid: '00000000-0000-0000-0000-000000000000', generation: 1 },
  spec: parseChatClusterSpec({}),
};

/** Every rule the linter has, as an error. */
const STRICT: ValidatorSettings = {
  deprecatedMaintainer: ValidationSeverity.ERROR,
  directiveCasing: ValidationSeverity.ERROR,
  emptyContinuationLine: ValidationSeverity.ERROR,
  instructionCasing: ValidationSeverity.ERROR,
  instructionCmdMultiple: ValidationSeverity.ERROR,
  instructionEntrypointMultiple: ValidationSeverity.ERROR,
  instructionHealthcheckMultiple: ValidationSeverity.ERROR,
  instructionJSONInSingleQuotes: ValidationSeverity.ERROR,
  instructionWorkdirRelative: ValidationSeverity.ERROR,
};

function labelsOf(chain: Stage[]): Map<string, string | null> {
  return new Map(stepsOf(chain, 'LABEL').flatMap((step) => step.properties));
}

function envOf(chain: Stage[]): Map<string, string | null> {
  return new Map(stepsOf(chain, 'ENV').flatMap((step) => step.properties));
}

function defined<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`the Dockerfile has no ${what}`);
  return value;
}

/** The stage every runtime COPY --from reads from. */
function buildStage(): Stage {
  const names = new Set(TARGETS.flatMap((target) => stepsOf(stageChain(dockerfile, target), 'COPY').flatMap((step) => (step.copyFrom === undefined ? [] : [step.copyFrom]))));
  expect([...names]).toHaveLength(1);
  return defined(stageChain(dockerfile, defined([...names][0], 'COPY --from')).at(-1), 'build stage');
}

/** major.minor as one comparable number. */
function release(version: string): number {
  const [major = 0, minor = 0] = version.split(/[.-]/).map(Number);
  return major * 1000 + minor;
}

describe('the Dockerfile', () => {
  it('has no problems by the dockerfile-utils linter, with every rule an error', () => {
    const problems = validate(dockerfile.text, STRICT).map(
      (problem) => `line ${problem.range.start.line + 1}: ${typeof problem.message === 'string' ? problem.message : problem.message.value}`,
    );
    expect(problems).toEqual([]);
  });

  it('builds both images in a build stage and copies only its output into a separate runtime stage', () => {
    const build = buildStage();
    const commands = build.steps.filter((step) => step.keyword === 'RUN').map((step) => step.text);
    // npm ls: an incomplete install fails the step instead of being cached.
    expect(commands.join(' && ')).toMatch(/npm ci\b[^&]*&& npm ls --silent && npm run build && npm prune --omit=dev/);
    for (const target of TARGETS) {
      const chain = stageChain(dockerfile, target);
      expect(chain.map((stage) => stage.name)).not.toContain(build.name);
      expect(chain[0]?.baseTag, `${target} starts from an image`).not.toBeNull();
    }
  });

  it('pins every base image to an exact Node.js release, the same for build and runtime', () => {
    const bases = dockerfile.stages.filter((stage) => stage.parent === undefined);
    expect(bases.length).toBeGreaterThanOrEqual(2);
    for (const stage of bases) {
      expect(stage.baseTag, `${stage.name}: ${stage.base}`).toMatch(/^\d+\.\d+\.\d+-[a-z]+(-slim)?$/);
    }
    expect(new Set(bases.map((stage) => stage.base)).size).toBe(1);
    // package.json says "engines": { "node": ">=major.minor" }.
    expect(release(bases[0]?.baseTag ?? '')).toBeGreaterThanOrEqual(release(packageJson.engines.node.replace('>=', '')));
  });

  it('takes the Node.js base from one build argument, NODE_IMAGE, whose default is the official image', () => {
    const bases = dockerfile.stages.filter((stage) => stage.parent === undefined);
    expect(bases.map((stage) => stage.baseAsWritten)).toEqual(bases.map(() => '${NODE_IMAGE}'));
    expect(dockerfile.globalArgs.get('NODE_IMAGE')).toMatch(/^node:\d+\.\d+\.\d+-bookworm-slim$/);
  });

  it('hands npm ci a CA bundle only through an optional BuildKit secret, so nothing of it stays in an image', () => {
    const npmCi = dockerfile.stages.flatMap((stage) => stage.steps).filter((step) => step.keyword === 'RUN' && /\bnpm ci\b/.test(step.text));
    expect(npmCi).toHaveLength(1);
    const [step] = npmCi;
    // No required=true: a build without --secret id=ca (no proxy in the way) works as before.
    expect(step?.flags).toEqual(['--mount=type=secret,id=ca']);
    expect(step?.text).toMatch(/^NODE_EXTRA_CA_CERTS=\/run\/secrets\/ca npm ci /);
    const persistent = dockerfile.stages.flatMap((stage) => stage.steps).filter((step) => ['ENV', 'ARG', 'COPY', 'ADD', 'LABEL'].includes(step.keyword));
    expect(persistent.filter((candidate) => /secrets|NODE_EXTRA_CA_CERTS|cafile|\.crt|\.pem/i.test(candidate.text)).map((candidate) => candidate.text)).toEqual([]);
  });

  it('runs each image as a numeric non-root user, so Kubernetes can enforce runAsNonRoot', () => {
    for (const target of TARGETS) {
      const user = stepsOf(stageChain(dockerfile, target), 'USER').at(-1)?.args[0];
      expect(user, target).toMatch(/^\d+(:\d+)?$/);
      const [uid, gid] = (user ?? '0').split(':').map(Number);
      expect(uid, target).toBeGreaterThan(0);
      if (gid !== undefined) expect(gid, target).toBeGreaterThan(0);
    }
  });

  it('sets NODE_ENV=production in the runtime images, and not where npm ci needs the dev dependencies', () => {
    for (const target of TARGETS) expect(envOf(stageChain(dockerfile, target)).get('NODE_ENV'), target).toBe('production');
    expect(envOf([buildStage()]).has('NODE_ENV')).toBe(false);
  });

  it('starts the node with an exec-form entry point whose default command is serve, so args: [migrate] runs the migration', () => {
    const chain = stageChain(dockerfile, 'node');
    const entrypoint = stepsOf(chain, 'ENTRYPOINT').at(-1)?.json;
    expect(entrypoint).toEqual(['node', inImage(workdirOf(chain), 'dist/node/main.js')]);
    expect(stepsOf(chain, 'CMD').at(-1)?.json).toEqual(['serve']);
  });

  it('starts the operator with an exec-form entry point and no command', () => {
    const chain = stageChain(dockerfile, 'operator');
    expect(stepsOf(chain, 'ENTRYPOINT').at(-1)?.json).toEqual(['node', inImage(workdirOf(chain), 'dist/operator/main.js')]);
    expect(stepsOf(chain, 'CMD')).toEqual([]);
  });

  it('copies each entry point’s compiled modules, the shared modules and package.json (its "type": "module")', () => {
    for (const target of TARGETS) {
      const chain = stageChain(dockerfile, target);
      const workdir = workdirOf(chain);
      const copied = stepsOf(chain, 'COPY').map((step) => inImage(workdir, copyPaths(step).destination).replace(/\/$/, ''));
      for (const path of [`dist/${target}`, 'dist/common', 'node_modules']) expect(copied, target).toContain(inImage(workdir, path));
      // The node serves the bundled web client from dist/web (node/server/web-client.ts).
      if (target === 'node') expect(copied).toContain(inImage(workdir, 'dist/web'));
      expect(copied.some((path) => path === inImage(workdir, 'package.json') || path === workdir), `${target}: package.json`).toBe(true);
    }
  });

  it('exposes the ports the code listens on by default', () => {
    const ports = (target: string): number[] => stepsOf(stageChain(dockerfile, target), 'EXPOSE').flatMap((step) => step.args.map(Number));
    const node = loadNodeConfig({ CHAT_JWT_SECRET: 'x'.repeat(32) });
    expect(ports('node').sort()).toEqual([node.port, node.adminPort].sort());
    expect(ports('operator')).toEqual([loadOperatorConfig({}).healthPort]);
  });

  it('puts the CRD where the operator’s compiled modules find it (../../crds from dist/operator)', () => {
    const chain = stageChain(dockerfile, 'operator');
    const workdir = workdirOf(chain);
    const crdCopy = defined(
      stepsOf(chain, 'COPY').find((step) => step.copyFrom === undefined && copyPaths(step).sources.includes('crds/chatcluster.yaml')),
      'COPY crds/chatcluster.yaml in the operator',
    );
    const destination = inImage(workdir, copyPaths(crdCopy).destination);
    const fromModule = new URL('../../crds/chatcluster.yaml', `file://${inImage(workdir, 'dist/operator/main.js')}`).pathname;
    expect(destination).toBe(fromModule);
  });

  it('labels each image with the OCI annotations, its version and licence taken from package.json', () => {
    for (const target of TARGETS) {
      const labels = labelsOf(stageChain(dockerfile, target));
      for (const key of ['title', 'description', 'version', 'licenses', 'base.name']) {
        expect(labels.get(`org.opencontainers.image.${key}`), `${target}: ${key}`).toBeTruthy();
      }
      expect(labels.get('org.opencontainers.image.licenses')).toBe(packageJson.license);
      expect(labels.get('org.opencontainers.image.version')).toBe('${VERSION}');
    }
    expect(dockerfile.globalArgs.get('VERSION')).toBe(packageJson.version);
    expect(new Set(TARGETS.map((target) => labelsOf(stageChain(dockerfile, target)).get('org.opencontainers.image.title'))).size).toBe(2);
  });

  it('copies no sources, dependencies or build files from the context into the runtime images, only the CRD', () => {
    for (const target of TARGETS) {
      const fromContext = stepsOf(stageChain(dockerfile, target), 'COPY').filter((step) => step.copyFrom === undefined);
      expect(fromContext.flatMap((step) => copyPaths(step).sources), target).toEqual(target === 'operator' ? ['crds/chatcluster.yaml'] : []);
      expect(stepsOf(stageChain(dockerfile, target), 'ADD'), target).toEqual([]);
    }
  });

  it('declares no secret in ARG or ENV (they end up in the image’s history)', () => {
    const declared = dockerfile.stages.flatMap((stage) => stage.steps.filter((step) => step.keyword === 'ARG' || step.keyword === 'ENV').flatMap((step) => step.properties.map(([name]) => name)));
    expect(declared.concat([...dockerfile.globalArgs.keys()]).filter((name) => /secret|password|token|key|credential/i.test(name))).toEqual([]);
  });
});

describe('the .dockerignore', () => {
  const ignored = dockerignoreMatcher(readFileSync(DOCKERIGNORE_PATH, 'utf8'));

  it('sends every path the Dockerfile copies from the context', () => {
    const sources = dockerfile.stages.flatMap((stage) => stage.steps.filter((step) => step.keyword === 'COPY' && step.copyFrom === undefined).flatMap((step) => copyPaths(step).sources));
    expect(sources.length).toBeGreaterThan(0);
    expect(sources.filter(ignored)).toEqual([]);
    expect(['common/env.ts', 'node/main.ts', 'operator/main.ts', 'node/server/admin-server.ts'].filter(ignored)).toEqual([]);
  });

  it('keeps out dependencies, build output, tests, git, local env files and keys', () => {
    const kept = ['node_modules/ws/index.js', 'dist/node/main.js', 'test/unit/dockerfiles.test.ts', 'node/config.test.ts', '.git/config', '.env', 'node/.env.local', 'charts/chatcluster/values.yaml', 'id_rsa', 'crds/other.yaml'].filter(
      (path) => !ignored(path),
    );
    expect(kept).toEqual([]);
  });
});

describe('the .dockerignore matcher (Docker’s rules)', () => {
  const ignored = dockerignoreMatcher('*\n!src/\n**/*.test.ts\n!src/keep.test.ts\ndocs/*.md\n');

  it('applies the last matching pattern, to a path or any of its folders', () => {
    expect(ignored('README.md')).toBe(true);
    expect(ignored('lib/a.js')).toBe(true);
    expect(ignored('src/a.ts')).toBe(false);
    expect(ignored('src/deep/a.test.ts')).toBe(true);
    expect(ignored('src/keep.test.ts')).toBe(false);
  });

  it('keeps * within one path segment and lets ** span several', () => {
    const matcher = dockerignoreMatcher('docs/*.md\n**/tmp\n');
    expect(matcher('docs/a.md')).toBe(true);
    expect(matcher('docs/sub/a.md')).toBe(false);
    expect(matcher('tmp/x')).toBe(true);
    expect(matcher('a/b/tmp/x')).toBe(true);
  });
});

describe('the local stand-ins for the official Redis and Cassandra images (dev/env/images)', () => {
  const standIns = [
    { name: 'redis', statefulSet: desiredRedis(sampleCluster)?.statefulSet },
    { name: 'cassandra', statefulSet: desiredCassandra(sampleCluster)?.statefulSet },
  ];

  it('follow the Node.js release of the Dockerfile’s default base with their own Node.js base', () => {
    expect(dockerfile.globalArgs.get('NODE_IMAGE')).toBe(`node:${versions.node}-${versions.debian}-slim`);
  });

  for (const { name, statefulSet } of standIns) {
    const standIn = parseDockerfile(readFileSync(`${REPO_ROOT}dev/env/images/${name}/Dockerfile`, 'utf8'));
    const chain = standIn.stages;
    const container = defined(statefulSet?.spec?.template.spec?.containers[0], `${name} container`);

    it(`${name}: has no problems by the dockerfile-utils linter`, () => {
      expect(validate(standIn.text, STRICT).map((problem) => problem.range.start.line + 1)).toEqual([]);
    });

    it(`${name}: exposes the ports, declares the volume and makes the UID-999 user the operator’s pods rely on`, () => {
      const exposed = stepsOf(chain, 'EXPOSE').flatMap((step) => step.args.map(Number));
      for (const port of container.ports ?? []) expect(exposed, `${name}: ${port.name ?? ''}`).toContain(port.containerPort);
      const declared = stepsOf(chain, 'VOLUME').flatMap((step) => step.json ?? step.args);
      expect(container.volumeMounts?.map((mount) => mount.mountPath)).toEqual(declared);
      expect(statefulSet?.spec?.template.spec?.securityContext?.runAsUser).toBe(999);
      const commands = stepsOf(chain, 'RUN').map((step) => step.text).join('\n');
      expect(commands).toMatch(/--uid 999\b/);
      expect(commands).toMatch(/--gid 999\b/);
    });

    it(`${name}: starts through docker-entrypoint.sh, so the operator's args and CASSANDRA_* variables mean what they mean to the official image`, () => {
      expect(stepsOf(chain, 'ENTRYPOINT').at(-1)?.json).toEqual(['docker-entrypoint.sh']);
      expect(stepsOf(chain, 'CMD').at(-1)?.json?.[0]).toBe(name === 'redis' ? 'redis-server' : 'cassandra');
    });
  }
});
