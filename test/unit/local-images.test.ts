/** The pure decisions of the image builders (dev/env/images): which release, which CA bundle. */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CASSANDRA_IMAGE } from '../../operator/desired/dependencies.js';
import { cassandraRelease } from '../../dev/env/images/cassandra-image.js';
import { hostCaBundle } from '../../dev/env/images/project-images.js';

const SYSTEM_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

describe('the Cassandra stand-in', () => {
  it('is made of the release the operator’s image name pins', () => {
    expect(cassandraRelease(CASSANDRA_IMAGE)).toBe(CASSANDRA_IMAGE.split(':')[1]);
    expect(cassandraRelease('cassandra:5.0.9')).toBe('5.0.9');
  });

  it('refuses a name that pins no release, rather than guess one', () => {
    expect(() => cassandraRelease('cassandra:5.0')).toThrow(/cannot tell the Cassandra release/);
    expect(() => cassandraRelease('cassandra:latest')).toThrow(/cannot tell the Cassandra release/);
  });
});

describe('the CA bundle handed to npm ci as the BuildKit secret', () => {
  it('is NODE_EXTRA_CA_CERTS when that file exists, else the system bundle, else none', () => {
    const system = existsSync(SYSTEM_BUNDLE) ? SYSTEM_BUNDLE : undefined;
    expect(hostCaBundle({ NODE_EXTRA_CA_CERTS: '/etc/hostname' })).toBe('/etc/hostname');
    expect(hostCaBundle({ NODE_EXTRA_CA_CERTS: '/nonexistent/ca.pem' })).toBe(system);
    expect(hostCaBundle({})).toBe(system);
  });
});
