import { describe, expect, it } from 'vitest';
import { ConfigError } from '../common/env.js';
import { loadCassandraConfig, loadNodeConfig } from './config.js';

const SECRET = 'a-test-secret-of-at-least-32-chars!!';

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadNodeConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('the node configuration', () => {
  it('defaults to an embedded node on ports 8080/9090 with a 64 KiB frame limit', () => {
    const config = loadNodeConfig({ CHAT_JWT_SECRET: SECRET, CHAT_NODE_ID: 'n1' });
    expect(config).toMatchObject({
      nodeId: 'n1',
      port: 8080,
      adminPort: 9090,
      advertiseAddress: 'n1:9090',
      redisUrl: undefined,
      cassandra: undefined,
      maxFrameBytes: 65536,
      messagesPerSecondPerUser: 20,
      pingIntervalMs: 30_000,
      auth: { kind: 'secret', secret: SECRET },
    });
  });

  it('reads a cluster node’s Redis and Cassandra', () => {
    const config = loadNodeConfig({
      CHAT_JWT_JWKS_URL: 'https://issuer.example/.well-known/jwks.json',
      CHAT_REDIS_URL: 'redis://redis:6379',
      CHAT_CASSANDRA_CONTACT_POINTS: 'c-0.c:9042, c-1.c:9042',
      CHAT_CASSANDRA_DC: 'dc1',
      CHAT_CASSANDRA_KEYSPACE: 'chat_prod',
    });
    expect(config.redisUrl).toBe('redis://redis:6379');
    expect(config.cassandra).toEqual({ contactPoints: ['c-0.c:9042', 'c-1.c:9042'], datacenter: 'dc1', keyspace: 'chat_prod', replicationFactor: 1, requestTimeoutMs: 12_000 });
    expect(config.auth).toEqual({ kind: 'jwks', url: 'https://issuer.example/.well-known/jwks.json' });
  });

  it('takes a Sentinel or Cluster Redis URL', () => {
    const cluster = { CHAT_JWT_SECRET: SECRET, CHAT_CASSANDRA_CONTACT_POINTS: 'c:9042' };
    for (const url of ['redis+sentinel://:pw@s-0:26379,s-1:26379/chat', 'rediss+cluster://r-0:6379,r-1:6379']) {
      expect(loadNodeConfig({ ...cluster, CHAT_REDIS_URL: url }).redisUrl).toBe(url);
    }
  });

  it.each([
    [{ CHAT_PORT: 'eighty' }, 'CHAT_PORT'],
    [{ CHAT_PORT: '70000' }, 'CHAT_PORT'],
    [{ CHAT_ADMIN_PORT: '-1' }, 'CHAT_ADMIN_PORT'],
    [{ CHAT_MAX_FRAME_BYTES: '12' }, 'CHAT_MAX_FRAME_BYTES'],
    [{ CHAT_PING_INTERVAL_MS: '10' }, 'CHAT_PING_INTERVAL_MS'],
    [{ CHAT_REDIS_URL: 'http://redis:6379', CHAT_CASSANDRA_CONTACT_POINTS: 'c:9042' }, 'CHAT_REDIS_URL'],
    [{ CHAT_REDIS_URL: 'redis+sentinel://s-0:26379', CHAT_CASSANDRA_CONTACT_POINTS: 'c:9042' }, 'CHAT_REDIS_URL'],
    [{ CHAT_REDIS_URL: 'redis://redis:6379' }, 'CHAT_CASSANDRA_CONTACT_POINTS'],
    [{ CHAT_CASSANDRA_CONTACT_POINTS: 'c:9042' }, 'CHAT_REDIS_URL'],
    [{ CHAT_REDIS_URL: 'redis://r:6379', CHAT_CASSANDRA_CONTACT_POINTS: 'just-a-host' }, 'CHAT_CASSANDRA_CONTACT_POINTS'],
    [{ CHAT_REDIS_URL: 'redis://r:6379', CHAT_CASSANDRA_CONTACT_POINTS: 'c:9042', CHAT_CASSANDRA_KEYSPACE: 'drop table' }, 'CHAT_CASSANDRA_KEYSPACE'],
    [{ CHAT_NODE_ID: 'has spaces' }, 'CHAT_NODE_ID'],
    [{ CHAT_MESSAGES_PER_SECOND: '0' }, 'CHAT_MESSAGES_PER_SECOND'],
  ])('refuses %j naming %s', (bad, variable) => {
    const error = configError({ CHAT_JWT_SECRET: SECRET, CHAT_NODE_ID: 'n1', ...bad });
    expect(error.variable).toBe(variable);
    expect(error.message.startsWith(`${variable}: `)).toBe(true);
  });

  it('needs exactly one way to check tokens, and a strong enough secret', () => {
    expect(configError({ CHAT_NODE_ID: 'n1' }).variable).toBe('CHAT_JWT_SECRET');
    const weak = configError({ CHAT_NODE_ID: 'n1', CHAT_JWT_SECRET: 'hunter2' }).message;
    expect(weak).toMatch(/at least 32 characters \(got 7 characters\)/);
    expect(weak).not.toContain('hunter2');
    expect(configError({ CHAT_NODE_ID: 'n1', CHAT_JWT_SECRET: SECRET, CHAT_JWT_JWKS_URL: 'https://x/jwks' }).variable).toBe('CHAT_JWT_JWKS_URL');
  });

  it('bounds the embedded store to 10,000 messages per conversation and 32 MiB by default, and reads other bounds', () => {
    expect(loadNodeConfig({ CHAT_JWT_SECRET: SECRET, CHAT_NODE_ID: 'n1' }).embeddedStore).toEqual({
      maxMessagesPerConversation: 10_000,
      maxBytes: 32 * 1024 * 1024,
    });
    const config = loadNodeConfig({
      CHAT_JWT_SECRET: SECRET,
      CHAT_NODE_ID: 'n1',
      CHAT_EMBEDDED_MAX_MESSAGES_PER_CONVERSATION: '500',
      CHAT_EMBEDDED_MAX_BYTES: String(8 * 1024 * 1024),
    });
    expect(config.embeddedStore).toEqual({ maxMessagesPerConversation: 500, maxBytes: 8 * 1024 * 1024 });
    expect(configError({ CHAT_JWT_SECRET: SECRET, CHAT_NODE_ID: 'n1', CHAT_EMBEDDED_MAX_BYTES: '1000' }).variable).toBe('CHAT_EMBEDDED_MAX_BYTES');
    expect(configError({ CHAT_JWT_SECRET: SECRET, CHAT_NODE_ID: 'n1', CHAT_EMBEDDED_MAX_MESSAGES_PER_CONVERSATION: '0' }).variable).toBe(
      'CHAT_EMBEDDED_MAX_MESSAGES_PER_CONVERSATION',
    );
  });

  it('takes a Cassandra login as a pair, and never the password alone or the user name alone', () => {
    const points = { CHAT_CASSANDRA_CONTACT_POINTS: '127.0.0.1:9042' };
    expect(loadCassandraConfig({ ...points, CHAT_CASSANDRA_USERNAME: 'chat', CHAT_CASSANDRA_PASSWORD: 's3cret' }).credentials).toEqual({ username: 'chat', password: 's3cret' });
    expect(loadCassandraConfig(points).credentials).toBeUndefined();
    expect(() => loadCassandraConfig({ ...points, CHAT_CASSANDRA_USERNAME: 'chat' })).toThrow('CHAT_CASSANDRA_PASSWORD: set both CHAT_CASSANDRA_USERNAME and CHAT_CASSANDRA_PASSWORD, or neither');
    expect(() => loadCassandraConfig({ ...points, CHAT_CASSANDRA_PASSWORD: 's3cret' })).toThrow('CHAT_CASSANDRA_USERNAME: set both');
  });

  it('lets migrate run with the Cassandra settings alone', () => {
    expect(loadCassandraConfig({ CHAT_CASSANDRA_CONTACT_POINTS: '127.0.0.1:9042' })).toEqual({
      contactPoints: ['127.0.0.1:9042'],
      datacenter: 'datacenter1',
      keyspace: 'chat',
      replicationFactor: 1,
      requestTimeoutMs: 12_000,
    });
  });

  it('takes how long a Cassandra request may wait, within bounds', () => {
    const points = { CHAT_CASSANDRA_CONTACT_POINTS: '127.0.0.1:9042' };
    expect(loadCassandraConfig({ ...points, CHAT_CASSANDRA_REQUEST_TIMEOUT_MS: '2500' }).requestTimeoutMs).toBe(2_500);
    expect(() => loadCassandraConfig({ ...points, CHAT_CASSANDRA_REQUEST_TIMEOUT_MS: '10' })).toThrow('CHAT_CASSANDRA_REQUEST_TIMEOUT_MS');
    expect(() => loadCassandraConfig({ ...points, CHAT_CASSANDRA_REQUEST_TIMEOUT_MS: '30000' })).toThrow('CHAT_CASSANDRA_REQUEST_TIMEOUT_MS');
  });
});
