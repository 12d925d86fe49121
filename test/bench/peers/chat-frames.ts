/**
 * What a peer makes of the chat frames the load generator sends. The peers have no chat
 * protocol: each maps these requests onto its own means (Socket.IO rooms, Centrifugo
 * channels), and answers with the reply chat would give (`replyTo`).
 */
/** Whom a send goes to: a user, or a group's members. */
export type SendTarget = { user: string } | { group: string };

export type PeerRequest =
  | { kind: 'send'; ref: string; to: SendTarget; text: string }
  | { kind: 'create'; ref: string; group: string }
  | { kind: 'join'; ref: string; group: string };

export function peerRequest(frame: Record<string, unknown>): PeerRequest {
  const ref = typeof frame.ref === 'string' ? frame.ref : '';
  const to = frame.to as { user?: unknown; group?: unknown } | undefined;
  if (frame.type === 'send' && typeof frame.text === 'string') {
    if (typeof to?.user === 'string') return { kind: 'send', ref, to: { user: to.user }, text: frame.text };
    if (typeof to?.group === 'string') return { kind: 'send', ref, to: { group: to.group }, text: frame.text };
  }
  if (frame.type === 'group.create' && typeof frame.name === 'string') return { kind: 'create', ref, group: frame.name };
  if (frame.type === 'group.join' && typeof frame.group === 'string') return { kind: 'join', ref, group: frame.group };
  throw new Error(`a peer carries direct and group sends, group.create and group.join only, not ${JSON.stringify(frame).slice(0, 120)}`);
}

/** The type of chat's reply to a request: what the generator waits for. */
export function replyTo(request: PeerRequest): 'ack' | 'group' | 'ok' {
  return request.kind === 'send' ? 'ack' : request.kind === 'create' ? 'group' : 'ok';
}
