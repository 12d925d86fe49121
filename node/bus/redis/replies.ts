import { ChatError } from '../../protocol/errors.js';

/** Runs one Redis operation, turning any failure to get an answer into `unavailable`. */
export async function reach<T>(what: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof ChatError) throw error;
    throw new ChatError('unavailable', `the bus (Redis) is unavailable: cannot ${what}`, { cause: error });
  }
}

/** The results of a MULTI or pipeline, rejecting with the first command's error. */
export function resultsOf(replies: [Error | null, unknown][] | null): unknown[] {
  if (replies === null) throw new Error('transaction aborted');
  return replies.map(([error, value]) => {
    if (error !== null) throw error;
    return value;
  });
}

