import express, { type NextFunction, type Request, type Response } from 'express';
import type { Identity, TokenVerifier } from '../auth/tokens.js';
import type { ChatNode } from '../chat/chat-node.js';
import type { SendOutcome } from '../chat/operations.js';
import { conversationTarget, parseConversationId } from '../protocol/conversations.js';
import { asChatError, ChatError, HTTP_STATUS } from '../protocol/errors.js';
import { CreateGroupBody, GroupName, HistoryQuery, parseOrBadRequest, SendBody, SyncQuery, type Target } from '../protocol/frames.js';

/** The bearer token of a request: `Authorization: Bearer …` (or `?token=` for browsers). */
export function bearerToken(authorization: string | undefined, query: URLSearchParams): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  return match?.[1] ?? query.get('token') ?? undefined;
}

/** The target of a conversation id the caller belongs to; `forbidden` for anyone else's. */
function targetOfConversation(user: string, conv: string): Target {
  const parsed = parseConversationId(conv);
  if (parsed === undefined) throw new ChatError('bad_request', 'conv is dm:<a>:<b> or g:<name>');
  if ('group' in parsed) return { group: parseOrBadRequest(GroupName, parsed.group) };
  const target = conversationTarget(user, conv);
  if (target === undefined) throw new ChatError('forbidden', 'not a participant of this conversation');
  return target;
}

/**
 * The HTTP API of PROTOCOL.md: the socket operations for backends and scripts, with the
 * same bearer JWT, the same operations and the same error codes.
 */
export function httpApi(node: ChatNode, verifier: TokenVerifier, maxBodyBytes: number): express.Router {
  const router = express.Router();
  const ops = node.operations;
  router.use(express.json({ limit: maxBodyBytes }));

  router.use(async (req: Request, res: Response, next: NextFunction) => {
    const token = bearerToken(req.headers.authorization, new URL(req.url, 'http://local').searchParams);
    if (token === undefined) {
      node.metrics.authFailures.inc();
      next(new ChatError('unauthorized', 'missing bearer token'));
      return;
    }
    try {
      res.locals.identity = await verifier.verify(token);
      next();
    } catch (error) {
      node.metrics.authFailures.inc();
      next(error);
    }
  });
  const userOf = (res: Response): string => (res.locals.identity as Identity).user;

  router.post('/messages', async (req, res) => {
    const body = parseOrBadRequest(SendBody, req.body);
    const user = userOf(res);
    const routing = node.reserveBackgroundRouting();
    let route: SendOutcome['route'];
    try {
      const sent = await ops.send(user, body);
      route = sent.route;
      // Answered once stored, as a socket's send is acked: routing waits for the bus, and a
      // client kept waiting through a Redis outage would time out and send again without idem.
      res.status(201).json(sent.ack);
    } finally {
      // Routed whether or not the answer could be written: the message is stored.
      if (route === undefined) routing.cancel();
      else routing.route(user, route);
    }
  });
  router.post('/groups', async (req, res) => {
    const { name } = parseOrBadRequest(CreateGroupBody, req.body);
    res.status(201).json(await ops.createGroup(userOf(res), name));
  });
  router.post('/groups/:name/join', async (req, res) => {
    await ops.joinGroup(userOf(res), parseOrBadRequest(GroupName, req.params.name));
    res.status(204).end();
  });
  router.post('/groups/:name/leave', async (req, res) => {
    await ops.leaveGroup(userOf(res), parseOrBadRequest(GroupName, req.params.name));
    res.status(204).end();
  });
  router.get('/groups/:name/members', async (req, res) => {
    res.json({ members: await ops.members(userOf(res), parseOrBadRequest(GroupName, req.params.name)) });
  });
  router.get('/groups', async (_req, res) => {
    res.json({ groups: await ops.groups(userOf(res)) });
  });
  router.get('/conversations/:conv/messages', async (req, res) => {
    const user = userOf(res);
    const query = parseOrBadRequest(HistoryQuery, req.query);
    const page = await ops.history(user, targetOfConversation(user, req.params.conv), query);
    res.json(page);
  });
  router.get('/sync', async (req, res) => {
    const { since } = parseOrBadRequest(SyncQuery, req.query);
    const { messages, next, cursor } = await ops.sync(userOf(res), since);
    res.json({ messages, next, cursor });
  });

  // Every other path or method under /v1 is an API error too, not the web client's HTML 404.
  router.use((_req: Request, _res: Response, next: NextFunction) => {
    next(new ChatError('not_found', 'no such method and path in the HTTP API'));
  });
  router.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const chatError = httpErrorOf(error);
    node.metrics.errors.inc({ code: chatError.code });
    res.status(HTTP_STATUS[chatError.code]).json({ code: chatError.code, message: chatError.message });
  });
  return router;
}

/** What body-parser's errors mean for a client, by their `type`. */
const BODY_PARSER_ERRORS: Readonly<Record<string, ChatError>> = {
  'entity.too.large': new ChatError('too_large', 'request body is too large'),
  'entity.parse.failed': new ChatError('bad_request', 'request body is not valid JSON'),
  'charset.unsupported': new ChatError('bad_request', 'request body charset is not supported; send UTF-8 JSON'),
  'encoding.unsupported': new ChatError('bad_request', 'request body content-encoding is not supported'),
};

/**
 * Errors of the JSON body parser and the router as protocol errors; everything else as it
 * is. Both mark a client's mistake with a 4xx `status` (a body that does not inflate, a path
 * parameter that is not valid percent-encoding): those are `bad_request`, never `internal`.
 */
export function httpErrorOf(error: unknown): ChatError {
  if (error instanceof ChatError) return error;
  const { type, status } = (error ?? {}) as { type?: unknown; status?: unknown };
  const known = typeof type === 'string' ? BODY_PARSER_ERRORS[type] : undefined;
  if (known !== undefined) return new ChatError(known.code, known.message, { cause: error });
  if (typeof status === 'number' && status >= 400 && status < 500) {
    if (status === 413) return new ChatError('too_large', 'request body is too large', { cause: error });
    const message = error instanceof URIError ? 'the path is not valid percent-encoding' : 'malformed request';
    return new ChatError('bad_request', message, { cause: error });
  }
  return asChatError(error);
}
