/**
 * Where the bus finds Redis, from one URL (`CHAT_REDIS_URL`, or a ChatCluster's
 * `redis.external.url`), so one field (and one Secret key) carries every mode:
 *
 * | mode | URL |
 * | --- | --- |
 * | standalone | `redis://[user:password@]host:port[/db]` (`rediss://` for TLS) |
 * | Sentinel | `redis+sentinel://[user:password@]host:port[,host:port…]/<master name>[?sentinelPassword=…&sentinelTls=true]` |
 * | Cluster | `redis+cluster://[user:password@]host:port[,host:port…]` (seed nodes) |
 *
 * `rediss+sentinel://` and `rediss+cluster://` speak TLS to the data servers; `sentinelTls=true`
 * asks the sentinels over TLS too (Redis's sentinels may listen on TLS or not, whatever the
 * data servers do). In Sentinel mode, user and password are the data servers' and
 * `sentinelPassword` the sentinels'.
 */
export interface HostPort {
  host: string;
  port: number;
}

interface Credentials {
  username?: string | undefined;
  password?: string | undefined;
}

export type RedisAddress =
  | { mode: 'standalone'; url: string; tls: boolean }
  | ({ mode: 'sentinel'; sentinels: HostPort[]; masterName: string; sentinelPassword?: string | undefined; db: number; tls: boolean; sentinelTls: boolean } & Credentials)
  | ({ mode: 'cluster'; seeds: HostPort[]; tls: boolean } & Credentials);

export type RedisMode = RedisAddress['mode'];

/** A URL that names no Redis this bus can use; the message says what was expected. */
export class RedisAddressError extends Error {
  override readonly name = 'RedisAddressError';
}

// The user info runs to the last `@` before the path, so a password with an unencoded `@` is
// still taken whole (and never mistaken for a host that an error would name).
const MULTI_HOST = /^(rediss?)\+(sentinel|cluster):\/\/(?:([^/?#]*)@)?([^/?#@]*)(?:\/([^?#]*))?(?:\?([^#]*))?$/;
const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[^\s:,[\]]+):(\d{1,5})$/;
const DEFAULT_SENTINEL_PORT = 26379;
const DEFAULT_REDIS_PORT = 6379;

/** Reads a Redis URL of any mode; throws RedisAddressError, never echoing the password, when it is not one. */
export function parseRedisAddress(text: string): RedisAddress {
  if (/^rediss?:\/\//.test(text)) return { mode: 'standalone', url: standaloneUrl(text), tls: text.startsWith('rediss:') };
  const match = MULTI_HOST.exec(text);
  if (match === null) {
    throw new RedisAddressError('expected redis://, rediss://, redis+sentinel://host:port[,…]/<master> or redis+cluster://host:port[,…]');
  }
  const [, scheme, mode, userInfo, hosts = '', path = '', query = ''] = match;
  const tls = scheme === 'rediss';
  const credentials = credentialsOf(userInfo);
  const params = new URLSearchParams(query);
  if (mode === 'sentinel') {
    const masterName = decodeURIComponent(path);
    if (!/^[A-Za-z0-9._-]{1,128}$/.test(masterName)) throw new RedisAddressError('a redis+sentinel:// URL ends with /<master name> (1-128 of [A-Za-z0-9._-])');
    refuseUnknown(params, ['sentinelPassword', 'db', 'sentinelTls']);
    const db = params.get('db') ?? '0';
    if (!/^\d{1,2}$/.test(db)) throw new RedisAddressError('db must be a database number');
    const sentinelTls = params.get('sentinelTls') ?? 'false';
    if (sentinelTls !== 'true' && sentinelTls !== 'false') throw new RedisAddressError('sentinelTls must be true or false');
    return {
      mode,
      sentinels: hostList(hosts, DEFAULT_SENTINEL_PORT),
      masterName,
      sentinelPassword: params.get('sentinelPassword') ?? undefined,
      db: Number(db),
      tls,
      sentinelTls: sentinelTls === 'true',
      ...credentials,
    };
  }
  // Redis Cluster has one database and no master names.
  if (path !== '') throw new RedisAddressError('a redis+cluster:// URL names no database or path');
  refuseUnknown(params, []);
  return { mode: 'cluster', seeds: hostList(hosts, DEFAULT_REDIS_PORT), tls, ...credentials };
}

/** The address without its secrets, for logs and status. */
export function describeRedisAddress(address: RedisAddress): string {
  switch (address.mode) {
    case 'standalone': {
      const url = new URL(address.url);
      return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
    }
    case 'sentinel':
      return `${address.tls ? 'rediss' : 'redis'}+sentinel://${address.sentinels.map(hostPortText).join(',')}/${address.masterName}`;
    case 'cluster':
      return `${address.tls ? 'rediss' : 'redis'}+cluster://${address.seeds.map(hostPortText).join(',')}`;
  }
}

function standaloneUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new RedisAddressError('expected redis://host:port[/db]');
  }
  if (url.hostname === '') throw new RedisAddressError('a redis:// URL names a host');
  return text;
}

function hostList(text: string, defaultPort: number): HostPort[] {
  const hosts = text.split(',').map((entry) => entry.trim());
  if (hosts.length === 0 || hosts.some((entry) => entry === '')) throw new RedisAddressError('expected host:port[,host:port…]');
  return hosts.map((entry, index) => {
    const match = HOST_PORT.exec(entry.includes(':') && !entry.endsWith(']') ? entry : `${entry}:${defaultPort}`);
    const port = Number(match?.[2]);
    // The entry is not echoed: a mistyped URL may have put part of a password here.
    if (match?.[1] === undefined || port < 1 || port > 65535) throw new RedisAddressError(`address ${index + 1} of the list is not host:port`);
    return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port };
  });
}

function credentialsOf(userInfo: string | undefined): Credentials {
  if (userInfo === undefined || userInfo === '') return {};
  const colon = userInfo.indexOf(':');
  const username = decodeURIComponent(colon === -1 ? userInfo : userInfo.slice(0, colon));
  const password = colon === -1 ? undefined : decodeURIComponent(userInfo.slice(colon + 1));
  // `redis://:secret@host` is the usual form of a password without a user (the default user).
  return { username: username === '' ? undefined : username, password };
}

function refuseUnknown(params: URLSearchParams, known: readonly string[]): void {
  for (const name of params.keys()) {
    if (!known.includes(name)) throw new RedisAddressError(`unknown URL parameter ${name} (known: ${known.join(', ') || 'none'})`);
  }
}

function hostPortText({ host, port }: HostPort): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}
