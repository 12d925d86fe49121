import { errors } from 'cassandra-driver';
import { describe, expect, it } from 'vitest';
import { refusedLogin, storeError } from './errors.js';

const everyHost = (reason: Error) => new errors.NoHostAvailableError({ '10.0.0.1:9042': reason, '10.0.0.2:9042': reason });

describe('a login Cassandra refused', () => {
  it('is told apart, with what Cassandra said, when the login is missing or wrong on every node', () => {
    const wrong = 'Provided username chat and/or password are incorrect';
    expect(refusedLogin(everyHost(new errors.AuthenticationError(wrong)))).toBe(wrong);
    expect(refusedLogin(everyHost(new errors.AuthenticationError('Host 10.0.0.1:9042 requires authentication, but no authenticator found in the options')))).toMatch(/requires authentication/);
    // As the store hands it on, wrapped in the protocol's error.
    expect(refusedLogin(storeError(everyHost(new errors.AuthenticationError(wrong)), 'connect'))).toBe(wrong);
  });

  it('is not a login Cassandra could not check for now, nor a node that is away: those are retried', () => {
    expect(refusedLogin(everyHost(new errors.AuthenticationError('Unable to perform authentication: Cannot achieve consistency level LOCAL_ONE')))).toBeUndefined();
    expect(refusedLogin(new errors.NoHostAvailableError({ a: new errors.AuthenticationError('Provided username chat and/or password are incorrect'), b: new errors.OperationTimedOutError('timed out') }))).toBeUndefined();
    expect(refusedLogin(new errors.NoHostAvailableError({}))).toBeUndefined();
    expect(refusedLogin(new Error('Provided username chat and/or password are incorrect'))).toBeUndefined();
  });
});
