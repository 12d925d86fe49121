/**
 * Every link between the repository's Markdown documents leads somewhere in a clone of it:
 * the file exists inside the repository, and a `#section` names a heading of that file
 * (as GitHub makes anchors from headings). Links out to the web are not followed.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/dockerfile.js';

const SKIPPED_DIRECTORIES = new Set(['node_modules', '.git', 'dist']);

function markdownFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    if (entry.isDirectory()) return SKIPPED_DIRECTORIES.has(entry.name) ? [] : markdownFiles(join(directory, entry.name));
    return entry.name.endsWith('.md') ? [join(directory, entry.name)] : [];
  });
}

/** The document's text outside fenced code blocks, where `[x](y)` is code, not a link. */
function proseOf(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '');
}

/** Link and image targets, `[text](target)` and `<img src="target">`. */
function linkTargets(markdown: string): string[] {
  const prose = proseOf(markdown);
  const inline = [...prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((match) => match[1] ?? '');
  const images = [...prose.matchAll(/<img[^>]*\ssrc="([^"]+)"/g)].map((match) => match[1] ?? '');
  return [...inline, ...images];
}

/** GitHub's anchors for a document's headings: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const [, heading] of proseOf(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const text = (heading ?? '').replace(/`/g, '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const slug = text.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${String(count)}`);
  }
  return anchors;
}

const isExternal = (target: string): boolean => /^[a-z][a-z0-9+.-]*:/i.test(target);

/** What is wrong with one link from `file`, or undefined when it leads somewhere. */
function brokenLink(file: string, target: string): string | undefined {
  const [path = '', anchor] = target.split('#', 2);
  const destination = path === '' ? file : resolve(dirname(file), decodeURI(path));
  const inRepository = relative(REPO_ROOT, destination);
  if (inRepository.startsWith('..')) return `${target}: outside the repository`;
  if (!existsSync(destination)) return `${target}: no such file`;
  if (anchor === undefined || !destination.endsWith('.md')) return undefined;
  return headingAnchors(readFileSync(destination, 'utf8')).has(anchor) ? undefined : `${target}: no heading #${anchor}`;
}

describe('links between the documents', () => {
  it('makes GitHub’s anchors from headings', () => {
    const anchors = headingAnchors('# The direct path’s floor (2026-12-06, evening)\n## `npm test`\n## A\n## A\n```\n# not a heading\n```\n');
    expect([...anchors]).toEqual(['the-direct-paths-floor-2026-12-06-evening', 'npm-test', 'a', 'a-1']);
  });

  const files = markdownFiles(REPO_ROOT);
  it('finds the documents', () => {
    expect(files.map((file) => relative(REPO_ROOT, file))).toEqual(expect.arrayContaining(['README.md', 'docs/PROTOCOL.md', 'docs/capacity.md']));
  });

  it.each(files.map((file) => [relative(REPO_ROOT, file), file] as const))('%s links only to what a clone has', (_, file) => {
    const broken = linkTargets(readFileSync(file, 'utf8'))
      .filter((target) => !isExternal(target))
      .map((target) => brokenLink(file, target))
      .filter((problem) => problem !== undefined);
    expect(broken).toEqual([]);
  });
});
