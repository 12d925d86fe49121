import { errors, types } from 'cassandra-driver';
import { ChatError } from '../../protocol/errors.js';

// Server answers that mean "not enough replicas answered in time", as opposed to a bad query.
const UNAVAILABLE_RESPONSES: ReadonlySet<number> = new Set([
  types.responseErrorCodes.unavailableException,
  types.responseErrorCodes.overloaded,
  types.responseErrorCodes.isBootstrapping,
  types.responseErrorCodes.writeTimeout,
  types.responseErrorCodes.readTimeout,
]);

/** Whether a driver failure means Cassandra could not be reached or did not answer in time. */
export function isCassandraUnavailable(error: unknown): boolean {
  return (
    error instanceof errors.NoHostAvailableError ||
    error instanceof errors.OperationTimedOutError ||
    error instanceof errors.BusyConnectionError ||
    (error instanceof errors.ResponseError && UNAVAILABLE_RESPONSES.has(error.code))
  );
}

/**
 * The ways a login is refused for good: the driver has none to give a node that asks for
 * one, or Cassandra says the name or password is wrong. The driver reports both, and a
 * login Cassandra could not check for now (its system_auth replicas away), as one
 * AuthenticationError class, so only its words tell them apart.
 */
const REFUSED_LOGIN = /requires authentication, but no authenticator found|Authentication provider not set|Provided username .* and\/or password are incorrect/;

/**
 * What Cassandra said when every node it tried refused the login for good (none given, or a
 * wrong one), or undefined for any other failure: waiting does not mend a refused login.
 */
export function refusedLogin(error: unknown): string | undefined {
  const cause = error instanceof ChatError ? error.cause : error;
  if (!(cause instanceof errors.NoHostAvailableError)) return undefined;
  const reasons = Object.values(cause.innerErrors as Record<string, unknown>);
  const refused = reasons.every((reason) => reason instanceof errors.AuthenticationError && REFUSED_LOGIN.test(reason.message));
  return reasons.length === 0 || !refused ? undefined : (reasons[0] as Error).message;
}

/** A store failure as a protocol error: `unavailable` (safe to retry) or `internal`, with the cause. */
export function storeError(error: unknown, operation: string): ChatError {
  if (error instanceof ChatError) return error;
  if (isCassandraUnavailable(error)) {
    return new ChatError('unavailable', `Cassandra is unavailable (${operation})`, { cause: error });
  }
  return new ChatError('internal', `Cassandra failed (${operation})`, { cause: error });
}
