import { request as httpRequest } from 'node:http';

/** One hostile HTTP request and the status PROTOCOL.md's HTTP API must answer it with. */
export interface HttpFuzzCase {
  name: string;
  method: string;
  /** Sent as it is: no normalisation of `..` or percent-escapes. */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** The acceptable statuses; every answer must also be JSON `{"code","message"}` unless 2xx. */
  expect: readonly number[];
}

export interface HttpAnswer {
  status: number;
  contentType: string;
  body: string;
}

/** Sends a request exactly as given (raw path, raw body) to `baseUrl` and reads the whole answer. */
export function rawHttp(baseUrl: string, fuzz: Omit<HttpFuzzCase, 'name' | 'expect'>): Promise<HttpAnswer> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: url.hostname, port: url.port, method: fuzz.method, path: fuzz.path, headers: fuzz.headers ?? {} }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, contentType: response.headers['content-type'] ?? '', body: Buffer.concat(chunks).toString('utf8') });
      });
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(fuzz.body);
  });
}

const JSON_TYPE = { 'content-type': 'application/json' };

/** JSON nested `depth` deep. */
function nested(depth: number): string {
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

/**
 * The HTTP API's hostile cases for a caller with `token`: malformed and hostile JSON bodies,
 * wrong content types and charsets, bodies over the limit, path traversal and bad escapes in
 * `{name}` and `{conv}`, bad queries, unknown routes and methods, missing or bad credentials.
 */
export function httpFuzzCases(token: string, maxBodyBytes: number): HttpFuzzCase[] {
  const auth = { authorization: `Bearer ${token}` };
  const post = (name: string, path: string, body: string | Buffer, headers: Record<string, string>, expect: readonly number[]): HttpFuzzCase => ({
    name,
    method: 'POST',
    path,
    headers: { ...auth, ...headers },
    body,
    expect,
  });
  const get = (name: string, path: string, expect: readonly number[]): HttpFuzzCase => ({ name, method: 'GET', path, headers: auth, expect });
  const cases: HttpFuzzCase[] = [];
  const badBodies: [string, string][] = [
    ['empty', ''],
    ['truncated', '{"to":{"user":"bob"},"text":"hi"'],
    ['trailing comma', '{"to":{"user":"bob"},"text":"hi",}'],
    ['single quotes', "{'to':{'user':'bob'},'text':'hi'}"],
    ['an array', '[{"to":{"user":"bob"},"text":"hi"}]'],
    ['a string', '"hi"'],
    ['null', 'null'],
    ['a number', '42'],
    // 10,000 levels: deep, yet under the 64 KiB body limit, so the parser must meet it.
    ['nested 10000', nested(10_000)],
    ['to nested 5000', `{"to":${nested(5000)},"text":"hi"}`],
    ['__proto__ to', '{"to":{"__proto__":{"user":"bob"}},"text":"hi"}'],
    ['__proto__ at the top', '{"__proto__":{"to":{"user":"bob"},"text":"hi"}}'],
    ['constructor to', '{"to":{"constructor":{"prototype":{"user":"bob"}}},"text":"hi"}'],
    ['text a number', '{"to":{"user":"bob"},"text":5}'],
    ['text empty', '{"to":{"user":"bob"},"text":""}'],
    ['to user traversal', '{"to":{"user":"../../etc/passwd"},"text":"hi"}'],
    ['to both', '{"to":{"user":"bob","group":"g"},"text":"hi"}'],
    ['idem 65', `{"to":{"user":"bob"},"text":"hi","idem":"${'i'.repeat(65)}"}`],
    ['lone surrogate escape', '{"to":{"user":"\\ud800"},"text":"hi"}'],
    ['NUL in user', '{"to":{"user":"a\\u0000b"},"text":"hi"}'],
  ];
  for (const [name, body] of badBodies) {
    cases.push(post(`messages: ${name}`, '/v1/messages', body, JSON_TYPE, [400]));
    cases.push(post(`groups: ${name}`, '/v1/groups', body, JSON_TYPE, [400]));
  }
  // RFC 8259 lets a parser ignore a leading byte order mark; body-parser does.
  cases.push(post('messages: BOM first', '/v1/messages', '\ufeff{"to":{"user":"bob"},"text":"hi"}', JSON_TYPE, [400, 201]));
  cases.push(post('messages: not UTF-8', '/v1/messages', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), JSON_TYPE, [400]));
  const contentTypes = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', 'application/json; charset=latin1', 'application/json; charset=nonsense', 'application/jsonp', '', 'application/*'];
  for (const contentType of contentTypes) {
    cases.push(post(`messages as ${JSON.stringify(contentType)}`, '/v1/messages', '{"to":{"user":"bob"},"text":"hi"}', contentType === '' ? {} : { 'content-type': contentType }, [400, 201]));
  }
  cases.push(post('messages gzip that is not gzip', '/v1/messages', '{"to":{"user":"bob"},"text":"hi"}', { ...JSON_TYPE, 'content-encoding': 'gzip' }, [400]));
  cases.push(post('messages in an unknown encoding', '/v1/messages', '{"to":{"user":"bob"},"text":"hi"}', { ...JSON_TYPE, 'content-encoding': 'br2' }, [400]));
  cases.push(post('messages over the size limit', '/v1/messages', JSON.stringify({ to: { user: 'bob' }, text: 'x'.repeat(maxBodyBytes + 1) }), JSON_TYPE, [413]));
  cases.push(post('messages of 4 MiB', '/v1/messages', `{"to":{"user":"bob"},"text":"${'x'.repeat(4 * 1024 * 1024)}"}`, JSON_TYPE, [413]));

  const names = ['..', '%2e%2e', '..%2f..%2fetc', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '..%5c..%5cwindows', 'a%00b', '%00', 'UPPER', 'x'.repeat(65), '%E0%A4%A', '%', '%zz', '%C0%AE%C0%AE', '__proto__', 'constructor', '%F0%9F%98%80', 'a%2Fb', 'g%20g'];
  for (const name of names) {
    cases.push(post(`join ${name}`, `/v1/groups/${name}/join`, '', {}, [400, 404]));
    cases.push(post(`leave ${name}`, `/v1/groups/${name}/leave`, '', {}, [400, 404]));
    cases.push(get(`members of ${name}`, `/v1/groups/${name}/members`, [400, 404]));
  }
  const convs = ['..', '..%2f..%2fetc%2fpasswd', 'g:..', 'g:%2e%2e', 'g:..%2fx', 'dm:..:..', 'dm:a:b:c', 'dm:%00:b', 'dm::', 'g:', 'g:__proto__', 'dm:__proto__:constructor', '%E0%A4%A', '%', 'x'.repeat(300), 'dm:a%2fb:c', 'g:UPPER'];
  for (const conv of convs) cases.push(get(`history of ${conv.slice(0, 40)}`, `/v1/conversations/${conv}/messages`, [400, 403, 404]));
  // The query is checked before the conversation: a bad one is 400 even for a group that does not exist.
  for (const query of ['limit=0', 'limit=201', 'limit=abc', 'limit=1e3', 'limit=-1', 'limit=1&limit=2', 'before=nope', 'before=%00']) {
    cases.push(get(`history ?${query}`, `/v1/conversations/g:nosuchgroup/messages?${query}`, [400]));
  }
  // Express's simple query parser reads `limit[]` and `before[a]` as other, ignored names.
  for (const query of ['limit[]=1', 'before[a]=b']) cases.push(get(`history ?${query}`, `/v1/conversations/g:nosuchgroup/messages?${query}`, [404]));
  for (const query of ['since=nope', 'since=c1.', 'since=p1.0', 'since=0&since=1', 'since=%ZZ', `since=${'c'.repeat(5000)}`]) cases.push(get(`sync ?${query}`, `/v1/sync?${query}`, [400]));
  cases.push(get('sync ?since[]=0', '/v1/sync?since[]=0', [200]));
  for (const path of ['/v1/nothing', '/v1/messages/../groups', '/v1/groups/x/y/z', '/v1/', '/v1', '/v1/%2e%2e/%2e%2e/etc/passwd', '/v1/conversations', '/v1/conversations//messages']) {
    cases.push(get(`GET ${path}`, path, [404, 400]));
  }
  cases.push({ name: 'PUT /v1/messages', method: 'PUT', path: '/v1/messages', headers: { ...auth, ...JSON_TYPE }, body: '{}', expect: [404, 405] });
  cases.push({ name: 'DELETE /v1/groups', method: 'DELETE', path: '/v1/groups', headers: auth, expect: [404, 405] });
  const anonymous: { name: string; headers: Record<string, string> }[] = [
    { name: 'no credentials', headers: {} },
    { name: 'empty bearer', headers: { authorization: 'Bearer ' } },
    { name: 'basic credentials', headers: { authorization: 'Basic Zm9vOmJhcg==' } },
    { name: 'garbage bearer', headers: { authorization: 'Bearer not.a.token' } },
  ];
  for (const { name, headers } of anonymous) {
    cases.push({ name: `groups with ${name}`, method: 'GET', path: '/v1/groups', headers, expect: [401] });
    cases.push({ name: `messages with ${name}`, method: 'POST', path: '/v1/messages', headers: { ...headers, ...JSON_TYPE }, body: '{"to":{"user":"bob"},"text":"hi"}', expect: [401] });
  }
  return cases;
}
