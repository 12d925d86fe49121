import type { NodeProcess } from '../../dev/node-processes.js';

/** Lines a node prints on stderr that are not its log: the inspector's banner. */
const INSPECTOR_LINES = ['Debugger listening', 'For help, see', 'Debugger attached', 'Debugger ending'];

/**
 * A node's JSON log lines from its captured output. The capture splits output at chunk
 * boundaries, so a long line may arrive in pieces; pieces are joined until they parse.
 */
function logLines(output: readonly string[]): { entries: Record<string, unknown>[]; unparsed: string[] } {
  const entries: Record<string, unknown>[] = [];
  const unparsed: string[] = [];
  let pending = '';
  let pieces = 0;
  for (const piece of output) {
    if (INSPECTOR_LINES.some((banner) => piece.includes(banner))) continue;
    const candidate = pending + piece;
    try {
      entries.push(JSON.parse(candidate) as Record<string, unknown>);
      pending = '';
      pieces = 0;
    } catch {
      if (candidate.startsWith('{') && pieces < 20) {
        pending = candidate;
        pieces += 1;
      } else {
        unparsed.push(candidate);
        pending = '';
        pieces = 0;
      }
    }
  }
  if (pending !== '') unparsed.push(pending);
  return { entries, unparsed };
}

/** Warnings and errors the nodes logged (pino level ≥ 40), counted by node and message. */
export function nodeLogProblems(nodes: readonly NodeProcess[]): Record<string, number> {
  const problems: Record<string, number> = {};
  const count = (key: string): void => {
    problems[key] = (problems[key] ?? 0) + 1;
  };
  for (const node of nodes) {
    const { entries, unparsed } = logLines(node.output);
    for (const entry of entries) {
      const level = typeof entry.level === 'number' ? entry.level : 0;
      if (level < 40) continue;
      const err = entry.err as { message?: unknown } | undefined;
      const cause = typeof err?.message === 'string' ? err.message.split('\n')[0]?.slice(0, 240) : undefined;
      const message = typeof entry.msg === 'string' ? entry.msg : '?';
      count(`${node.id}: ${level === 40 ? 'warn' : 'error'}: ${message}${cause === undefined ? '' : ` (${cause})`}`);
    }
    for (const line of unparsed) count(`${node.id}: unparsed output: ${line.trim().slice(0, 160)}`);
  }
  return problems;
}
