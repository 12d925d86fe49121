import type { ConnectionState, ProblemReport } from '../connection/chat-connection.js';

const WORDS: Partial<Record<ProblemReport['code'], string>> = {
  rate_limited: 'You are sending too fast: wait a moment, then retry.',
  forbidden: 'Not allowed',
  too_large: 'Message too large: shorten it and send again.',
  unavailable: 'The chat service is briefly unavailable: retry in a moment.',
  not_found: 'Not found',
  conflict: 'Already exists',
  unauthorized: 'Your sign-in was refused',
  bad_request: 'The node did not accept this',
  internal: 'The node failed',
  connection: 'Not connected',
};

/** A problem in words a person reads: what happened first, then (unless `brief`) the node's own detail. */
export function describeProblem(problem: ProblemReport, brief = false): string {
  const words = WORDS[problem.code] ?? 'Something went wrong';
  return problem.message === '' || brief ? words : `${words} (${problem.message})`;
}

/** The connection state in words, for the status line. */
export function describeState(state: ConnectionState): string {
  switch (state.kind) {
    case 'connecting':
      return state.attempt === 0 ? 'Connecting…' : `Connecting (attempt ${state.attempt + 1})…`;
    case 'syncing':
      return `Catching up on ${state.node}…`;
    case 'online':
      return `Connected to ${state.node}`;
    case 'waiting': {
      const seconds = (state.retryInMs / 1000).toFixed(1);
      return state.reason === 'drain' ? `Node is leaving: moving in ${seconds} s` : `Connection lost: reconnecting in ${seconds} s`;
    }
    case 'signed-out':
      return `Signed out: ${state.reason}`;
    case 'stopped':
      return 'Not connected';
  }
}
