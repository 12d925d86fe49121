/** The parts of a chat `send` frame to a user that a peer carries; other frames have no equivalent there. */
export function directSend(frame: Record<string, unknown>): { ref: string; to: string; text: string } {
  const to = frame.to as { user?: unknown } | undefined;
  if (frame.type !== 'send' || typeof frame.ref !== 'string' || typeof to?.user !== 'string' || typeof frame.text !== 'string') {
    throw new Error(`a peer carries direct sends only, not ${JSON.stringify(frame).slice(0, 120)}`);
  }
  return { ref: frame.ref, to: to.user, text: frame.text };
}
