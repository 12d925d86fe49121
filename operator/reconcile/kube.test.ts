import { describe, expect, it } from 'vitest';
import { ApiError } from '../runtime/raw-api.js';
import { describeFailure } from './kube.js';

describe('how a reconcile failure is told in status and Events', () => {
  it('keeps the status code and the API server’s message, and nothing that changes between retries', () => {
    const fromClient = Object.assign(new Error('HTTP-Code: 403\nMessage: Unsuccessful HTTP Request\nHeaders: {"audit-id":"7d1c…"}'), {
      code: 403,
      body: JSON.stringify({ kind: 'Status', message: 'statefulsets.apps "demo-redis" is forbidden: User "system:serviceaccount:ops:op" cannot delete resource', code: 403 }),
    });
    expect(describeFailure(fromClient)).toBe('HTTP 403: statefulsets.apps "demo-redis" is forbidden: User "system:serviceaccount:ops:op" cannot delete resource');
    expect(describeFailure(new ApiError(409, 'PATCH /x: HTTP 409: conflict'))).toBe('PATCH /x: HTTP 409: conflict');
    expect(describeFailure(new Error('first line\nsecond line'))).toBe('first line');
    expect(describeFailure('plain')).toBe('plain');
  });
});
