import { describe, expect, it } from 'vitest';
import { describeRedisAddress, parseRedisAddress, RedisAddressError } from './address.js';

describe('parseRedisAddress', () => {
  it('keeps a standalone URL as it is', () => {
    expect(parseRedisAddress('redis://:pw@redis:6379/2')).toEqual({ mode: 'standalone', url: 'redis://:pw@redis:6379/2', tls: false });
    expect(parseRedisAddress('rediss://redis.example:6380')).toEqual({ mode: 'standalone', url: 'rediss://redis.example:6380', tls: true });
  });

  it('reads sentinels, the master name, both passwords and the database', () => {
    expect(parseRedisAddress('redis+sentinel://app:p%40ss@s-0.r:26379,s-1.r:26380,[::1]:26381/chat?sentinelPassword=s%3Ecret&db=3')).toEqual({
      mode: 'sentinel',
      sentinels: [
        { host: 's-0.r', port: 26379 },
        { host: 's-1.r', port: 26380 },
        { host: '::1', port: 26381 },
      ],
      masterName: 'chat',
      username: 'app',
      password: 'p@ss',
      sentinelPassword: 's>cret',
      db: 3,
      tls: false,
      sentinelTls: false,
    });
  });

  it('asks the sentinels over TLS with sentinelTls=true, whatever the scheme says of the data servers', () => {
    expect(parseRedisAddress('rediss+sentinel://s:26379/m?sentinelTls=true')).toMatchObject({ tls: true, sentinelTls: true });
    expect(parseRedisAddress('redis+sentinel://s:26379/m?sentinelTls=true')).toMatchObject({ tls: false, sentinelTls: true });
    expect(parseRedisAddress('rediss+sentinel://s:26379/m')).toMatchObject({ tls: true, sentinelTls: false });
  });

  it('gives sentinels port 26379 and cluster seeds port 6379 when none is named', () => {
    expect(parseRedisAddress('rediss+sentinel://:pw@sentinel/mymaster')).toMatchObject({ sentinels: [{ host: 'sentinel', port: 26379 }], password: 'pw', tls: true });
    expect(parseRedisAddress('redis+cluster://a,b:7001')).toEqual({
      mode: 'cluster',
      seeds: [
        { host: 'a', port: 6379 },
        { host: 'b', port: 7001 },
      ],
      tls: false,
    });
  });

  it.each([
    ['http://redis:6379', /expected redis:\/\//],
    ['redis+sentinel://s:26379', /master name/],
    ['redis+sentinel://s:26379/', /master name/],
    ['redis+sentinel://s:26379/bad name', /master name/],
    ['redis+sentinel://s:26379/m?password=x', /unknown URL parameter password/],
    ['redis+sentinel://s:26379/m?db=x', /database number/],
    ['redis+sentinel://s:26379/m?sentinelTls=yes', /sentinelTls must be true or false/],
    ['redis+cluster://', /host:port/],
    ['redis+cluster://a:1,,b:2', /host:port/],
    ['redis+cluster://a:99999', /address 1 of the list is not host:port/],
    ['redis+cluster://:pa/ss@h:6379', /names no database or path/],
    ['redis+cluster://a:6379/0', /names no database/],
    ['redis+cluster://a:6379?x=1', /unknown URL parameter x/],
    ['redis+proxy://a:1', /expected redis:\/\//],
  ])('refuses %s', (text, message) => {
    expect(() => parseRedisAddress(text)).toThrow(RedisAddressError);
    expect(() => parseRedisAddress(text)).toThrow(message);
  });

  it('takes a password with an unencoded @ whole', () => {
    expect(parseRedisAddress('redis+sentinel://:p@ss@h:26379/m')).toMatchObject({ password: 'p@ss', sentinels: [{ host: 'h', port: 26379 }] });
  });

  it('never puts a password in an error or a description', () => {
    const secret = 'hunter2-very-secret';
    let message = '';
    try {
      parseRedisAddress(`redis+cluster://:${secret}@a:6379/x`);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).not.toBe('');
    expect(message).not.toContain(secret);
    for (const url of [`redis://:${secret}@r:6379/1`, `redis+sentinel://:${secret}@s:1/m?sentinelPassword=${secret}`, `rediss+cluster://u:${secret}@a:1,b:2`]) {
      expect(describeRedisAddress(parseRedisAddress(url))).not.toContain(secret);
    }
    expect(describeRedisAddress(parseRedisAddress(`rediss+cluster://u:${secret}@a:1,[::1]:2`))).toBe('rediss+cluster://a:1,[::1]:2');
    expect(describeRedisAddress(parseRedisAddress(`redis://:${secret}@r:6379/1`))).toBe('redis://r:6379/1');
  });
});
