import { randomInt } from 'node:crypto';
import type { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateGroupBody, SendBody } from '../../node/protocol/frames.js';
import { startChatCluster, type ChatCluster } from '../support/chat-cluster.js';
import { testEnvironment } from '../support/env.js';
import { fuzzCorpus, type FuzzCase } from '../support/fuzz-corpus.js';
import { httpFuzzCases, rawHttp, type HttpFuzzCase } from '../support/fuzz-http.js';
import { startNode, stopNode, tokenFor, type NodeProcess } from '../../dev/node-processes.js';

/**
 * Hostile requests to the HTTP API of one embedded node and one cluster node: each must be
 * answered with the status PROTOCOL.md gives its error and a JSON `{"code","message"}`
 * body, and neither node may exit. The bodies of `POST /v1/messages` and `/v1/groups` also
 * come from the frame fuzzer's corpus (CHAT_FUZZ_SEED replays it).
 */
const SEED = Number(process.env.CHAT_FUZZ_SEED ?? randomInt(2 ** 31));
const MAX_BODY_BYTES = 65_536;
const ERROR_STATUS: Readonly<Record<string, number>> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
};

function embeddedEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', CHAT_MESSAGES_PER_SECOND: '100000' };
  delete env.CHAT_REDIS_URL;
  delete env.CHAT_CASSANDRA_CONTACT_POINTS;
  return env;
}

/** The corpus's `send` and `group.create` cases as HTTP bodies (the extra `type` and `ref` are ignored fields). */
function corpusBodies(corpus: readonly FuzzCase[], token: string): HttpFuzzCase[] {
  const routes = [
    { prefix: 'send', path: '/v1/messages', schema: SendBody, valid: [201, 403, 404, 429] },
    { prefix: 'group.create', path: '/v1/groups', schema: CreateGroupBody, valid: [201, 409] },
  ];
  return corpus.flatMap((fuzz) => {
    const route = routes.find(({ prefix }) => fuzz.name.startsWith(`${prefix}.`) || fuzz.name.startsWith(`${prefix}:`));
    if (route === undefined || fuzz.binary || fuzz.expect === 'close_1007') return [];
    // Judged again by the HTTP body's own schema: a frame's `type` and `ref` mean nothing in a body.
    const expected = fuzz.expect === 'close_1009' ? [413] : isValidJson(fuzz.payload, route.schema) ? route.valid : [400];
    return [{ name: `${route.path} ${fuzz.name}`, method: 'POST', path: route.path, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: fuzz.payload, expect: expected }];
  });
}

function isValidJson(payload: Buffer, schema: z.ZodType): boolean {
  try {
    return schema.safeParse(JSON.parse(payload.toString('utf8'))).success;
  } catch {
    return false;
  }
}

describe('hostile requests to the HTTP API', () => {
  let embedded: NodeProcess;
  let cluster: ChatCluster;

  beforeAll(async () => {
    console.log(`HTTP fuzz seed ${SEED} (replay with CHAT_FUZZ_SEED=${SEED})`);
    [embedded, cluster] = await Promise.all([startNode(embeddedEnv()), startChatCluster(testEnvironment(), 1, { LOG_LEVEL: 'warn', CHAT_MESSAGES_PER_SECOND: '100000' })]);
  });
  afterAll(async () => {
    // Both were started in beforeAll; when it failed there is nothing to stop.
    await Promise.allSettled([stopNode(embedded), cluster.stop()]);
  });

  it('answers each with its documented status and a {code, message} body, and stays up', async () => {
    const token = await tokenFor('http-fuzzer');
    const corpus = fuzzCorpus({ seed: SEED, maxFrameBytes: MAX_BODY_BYTES });
    const cases = [...httpFuzzCases(token, MAX_BODY_BYTES), ...corpusBodies(corpus, token)];
    const statuses: Record<string, number> = {};
    for (const node of [embedded, cluster.nodes[0] as NodeProcess]) {
      const wrong: string[] = [];
      for (const fuzz of cases) {
        const answer = await rawHttp(node.url, fuzz);
        statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
        const described = `${fuzz.name}: ${answer.status} ${answer.body.slice(0, 160)}`;
        if (!fuzz.expect.includes(answer.status)) {
          wrong.push(`${described} (expected ${fuzz.expect.join(' or ')})`);
          continue;
        }
        if (answer.status < 300) continue;
        let body: unknown;
        try {
          body = JSON.parse(answer.body);
        } catch {
          wrong.push(`${described} (not JSON: ${answer.contentType})`);
          continue;
        }
        const { code, message } = (body ?? {}) as { code?: unknown; message?: unknown };
        if (typeof code !== 'string' || ERROR_STATUS[code] !== answer.status || typeof message !== 'string' || Object.keys(body as object).length !== 2) {
          wrong.push(`${described} (not {"code","message"} with the code of its status)`);
        }
      }
      expect(wrong, `${node.id} (seed ${SEED})`).toEqual([]);
      expect(node.child.exitCode).toBeNull();
      expect((await rawHttp(node.url, { method: 'GET', path: '/healthz' })).status).toBe(200);
    }
    console.log(`HTTP fuzz: ${cases.length} requests per node, statuses ${JSON.stringify(statuses)}`);
    // About 10 s on an idle machine; minutes when the whole suite shares two busy cores.
  }, 300_000);
});
