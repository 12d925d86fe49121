/**
 * The repository's Dockerfile and .dockerignore as the image tests read them: build stages
 * with their instructions (parsed by dockerfile-ast, the parser behind dockerfile-utils'
 * linter), the chain of stages a target builds on, and Docker's ignore-file matching.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Copy, DockerfileParser, From, JSONInstruction, PropertyInstruction, type Instruction } from 'dockerfile-ast';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DOCKERFILE_PATH = fileURLToPath(new URL('../../Dockerfile', import.meta.url));
export const DOCKERIGNORE_PATH = fileURLToPath(new URL('../../.dockerignore', import.meta.url));

/** One instruction of a stage, with what the tests look at. */
export interface Step {
  keyword: string;
  /** The arguments as written, flags excluded (a shell-form RUN is split on blanks). */
  args: string[];
  /** The arguments' text as written (a shell-form command line). */
  text: string;
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
  /** The base: an image reference, or an earlier stage's name. */
  base: string;
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
      const base = from.getImage() ?? '';
      const parent = stages.find((stage) => stage.name === base);
      stages.push({ name: from.getBuildStage() ?? String(stages.length), base, baseTag: parent === undefined ? from.getImageTag() : null, parent, steps: [] });
    } else {
      stages.at(-1)?.steps.push(stepOf(instruction));
    }
  }
  return { text, globalArgs, stages };
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
  const joined = path.startsWith('/') ? path : `${workdir.replace(/\/$/, '')}/${path}`;
  const parts: string[] = [];
  for (const part of joined.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}${path.endsWith('/') && parts.length > 0 ? '/' : ''}`;
}

/**
 * Docker's .dockerignore rules (moby/patternmatcher): the last pattern that matches a path
 * or one of its parent folders decides; `!` re-includes; `*` and `?` stay within a path
 * segment, `**` spans any number of segments. Returns "is this context path excluded".
 */
export function dockerignoreMatcher(text: string): (path: string) => boolean {
  const patterns = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const exclusion = line.startsWith('!');
      const cleaned = cleanPattern(exclusion ? line.slice(1).trim() : line);
      return { exclusion, regex: patternRegex(cleaned) };
    });
  return (path) => {
    const segments = cleanPattern(path).split('/');
    const candidates = segments.map((_, index) => segments.slice(0, index + 1).join('/')).reverse();
    let excluded = false;
    for (const pattern of patterns) {
      // As moby does: skip what cannot change the outcome (an exclude once excluded, a `!` while included).
      if (pattern.exclusion !== excluded) continue;
      if (candidates.some((candidate) => pattern.regex.test(candidate))) excluded = !pattern.exclusion;
    }
    return excluded;
  };
}

function cleanPattern(pattern: string): string {
  return pattern
    .split('/')
    .filter((part) => part !== '' && part !== '.')
    .join('/');
}

function patternRegex(pattern: string): RegExp {
  let source = '';
  for (let index = 0; index < pattern.length; index++) {
    const char = pattern.charAt(index);
    if (char === '*' && pattern.charAt(index + 1) === '*') {
      index++;
      if (pattern.charAt(index + 1) === '/') index++;
      source += index + 1 >= pattern.length ? '.*' : '(.*/)?';
    } else if (char === '*') {
      source += '[^/]*';
    } else if (char === '?') {
      source += '[^/]';
    } else if (char === '\\' && index + 1 < pattern.length) {
      index++;
      source += escapeRegex(pattern.charAt(index));
    } else {
      source += escapeRegex(char);
    }
  }
  return new RegExp(`^${source}$`);
}

function escapeRegex(char: string): string {
  return char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
}
