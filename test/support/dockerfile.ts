/**
 * The repository's Dockerfile and .dockerignore as the image tests read them: build stages
 * with their instructions (parsed by dockerfile-ast, the parser behind dockerfile-utils'
 * linter), the chain of stages a target builds on, and Docker's ignore-file matching.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Ignore } from '@balena/dockerignore';
import { Copy, DockerfileParser, From, JSONInstruction, ModifiableInstruction, PropertyInstruction, type Instruction } from 'dockerfile-ast';

// A CommonJS module whose typings claim a default export it does not have at run time.
const dockerignore = createRequire(import.meta.url)('@balena/dockerignore') as () => Ignore;

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DOCKERFILE_PATH = fileURLToPath(new URL('../../Dockerfile', import.meta.url));
export const DOCKERIGNORE_PATH = fileURLToPath(new URL('../../.dockerignore', import.meta.url));

/** One instruction of a stage, with what the tests look at. */
export interface Step {
  keyword: string;
  /** The arguments as written, flags excluded (a shell-form RUN is split on blanks). */
  args: string[];
  /** The arguments' text as written (a shell-form command line), flags excluded. */
  text: string;
  /** The flags as written, e.g. `--mount=type=secret,id=ca` of a RUN. */
  flags: string[];
  /** The exec form's strings (ENTRYPOINT, CMD, RUN, COPY written as a JSON array), else undefined. */
  json: string[] | undefined;
  /** COPY --from. */
  copyFrom: string | undefined;
  /** LABEL, ENV and ARG name/value pairs. */
  properties: [string, string | null][];
  /** 1-based line, for failure messages. */
  line: number;
}

/** One build stage: `FROM base AS name` and its instructions. */
export interface Stage {
  name: string;
  /** The base: an image reference, or an earlier stage's name, with global ARGs' defaults put in. */
  base: string;
  /** The base as written in FROM, e.g. `${NODE_IMAGE}`. */
  baseAsWritten: string;
  /** The base image's tag, when the base is an image. */
  baseTag: string | null;
  /** The earlier stage this one builds on, if any. */
  parent: Stage | undefined;
  steps: Step[];
}

export interface Dockerfile {
  text: string;
  /** ARGs declared before the first FROM, with their defaults. */
  globalArgs: Map<string, string | null>;
  stages: Stage[];
}

/** Parses Dockerfile text into stages. */
export function parseDockerfile(text: string): Dockerfile {
  const parsed = DockerfileParser.parse(text);
  const globalArgs = new Map(parsed.getInitialARGs().map((arg) => [arg.getProperty()?.getName() ?? '', arg.getProperty()?.getValue() ?? null] as const));
  const stages: Stage[] = [];
  for (const instruction of parsed.getInstructions()) {
    if (instruction instanceof From) {
      const from = instruction;
      const baseAsWritten = from.getImage() ?? '';
      const base = withArgDefaults(baseAsWritten, globalArgs);
      const parent = stages.find((stage) => stage.name === base);
      stages.push({ name: from.getBuildStage() ?? String(stages.length), base, baseAsWritten, baseTag: parent === undefined ? tagOf(base) : null, parent, steps: [] });
    } else {
      stages.at(-1)?.steps.push(stepOf(instruction));
    }
  }
  return { text, globalArgs, stages };
}

/** `$NAME` and `${NAME}` replaced by the global ARG's default, as the builder does in FROM when no --build-arg is given. */
function withArgDefaults(text: string, args: Map<string, string | null>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, braced: string | undefined, bare: string | undefined) => args.get(braced ?? bare ?? '') ?? '');
}

/** The tag of an image reference (`name[:tag][@digest]`), or null. */
function tagOf(reference: string): string | null {
  const name = reference.split('@')[0] ?? '';
  const colon = name.lastIndexOf(':');
  return colon > name.lastIndexOf('/') ? name.slice(colon + 1) : null;
}

export function readRepositoryDockerfile(): Dockerfile {
  return parseDockerfile(readFileSync(DOCKERFILE_PATH, 'utf8'));
}

function stepOf(instruction: Instruction): Step {
  const keyword = instruction.getKeyword();
  const jsonStrings = instruction instanceof JSONInstruction ? instruction.getJSONStrings().map((value) => value.getJSONValue()) : [];
  const properties: [string, string | null][] =
    instruction instanceof PropertyInstruction ? instruction.getProperties().map((property) => [property.getName(), property.getValue()]) : [];
  return {
    keyword,
    args: instruction.getArguments().map((argument) => argument.getValue()),
    text: instruction.getArgumentsContent() ?? '',
    flags: instruction instanceof ModifiableInstruction ? instruction.getFlags().map((flag) => flag.toString()) : [],
    json: jsonStrings.length > 0 ? jsonStrings : undefined,
    copyFrom: instruction instanceof Copy ? (instruction.getFromFlag()?.getValue() ?? undefined) : undefined,
    properties,
    line: instruction.getRange().start.line + 1,
  };
}

/** The stages a target is built from, base-most first, ending with the target itself. */
export function stageChain(dockerfile: Dockerfile, target: string): Stage[] {
  const chain: Stage[] = [];
  for (let stage = dockerfile.stages.find((candidate) => candidate.name === target); stage !== undefined; stage = stage.parent) chain.unshift(stage);
  if (chain.length === 0) throw new Error(`the Dockerfile has no stage ${target}`);
  return chain;
}

/** Every step of a chain with the given keyword, in build order. */
export function stepsOf(chain: Stage[], keyword: string): Step[] {
  return chain.flatMap((stage) => stage.steps.filter((step) => step.keyword === keyword));
}

/** The working directory in effect at the end of a chain. */
export function workdirOf(chain: Stage[]): string {
  return stepsOf(chain, 'WORKDIR').at(-1)?.args[0] ?? '/';
}

/** A COPY's sources and destination. */
export function copyPaths(step: Step): { sources: string[]; destination: string } {
  const paths = step.json ?? step.args;
  return { sources: paths.slice(0, -1), destination: paths.at(-1) ?? '' };
}

/** Resolves a destination the way the builder does: relative to the working directory. */
export function inImage(workdir: string, path: string): string {
  const resolved = posix.resolve(workdir, path);
  return path.endsWith('/') && resolved !== '/' ? `${resolved}/` : resolved;
}

/**
 * Docker's .dockerignore rules, by @balena/dockerignore (a port of moby's own matcher, as
 * dockerode uses it). Returns "is this context path excluded".
 */
export function dockerignoreMatcher(text: string): (path: string) => boolean {
  const rules = dockerignore().add(text.split('\n'));
  return (path) => rules.ignores(path.replace(/^\.?\/+/, ''));
}
