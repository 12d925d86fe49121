import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { retryAfterMs } from './informer.js';

const status = (code: number, details: object): string =>
  JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'storage is (re)initializing', code, details });

describe('retryAfterMs', () => {
  it('reads the wait a 429 Status asks for, as the API server sends it', () => {
    const error = new ApiException(429, 'Unsuccessful HTTP Request', status(429, { retryAfterSeconds: 2 }), {});
    expect(retryAfterMs(error)).toBe(2_000);
  });

  it('waits one second for a 429 that names no wait', () => {
    expect(retryAfterMs(new ApiException(429, 'Too Many Requests', 'not json', {}))).toBe(1_000);
  });

  it('is undefined for any other failure, which keeps its back-off and its warning', () => {
    expect(retryAfterMs(new ApiException(500, 'Internal Server Error', status(500, {}), {}))).toBeUndefined();
    expect(retryAfterMs(new Error('socket hang up'))).toBeUndefined();
  });
});
