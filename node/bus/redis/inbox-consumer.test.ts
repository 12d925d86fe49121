import { describe, expect, it } from 'vitest';
import { earlierStreamId } from './inbox-consumer.js';

describe('earlierStreamId', () => {
  it.each([
    ['1-0', '2-0', '1-0'],
    ['2-5', '2-4', '2-4'],
    ['3-1', '3-1', '3-1'],
    // Numbers, not strings: 10 is after 9, and sequences reach 2^64 - 1.
    ['10-0', '9-0', '9-0'],
    ['5-18446744073709551615', '5-18446744073709551614', '5-18446744073709551614'],
  ])('of %s and %s is %s', (a, b, earlier) => {
    expect(earlierStreamId(a, b)).toBe(earlier);
  });
});
