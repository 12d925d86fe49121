import type { PresenceStatus } from '../connection/frames.js';

/** A dot for a person's presence, with its state in words for screen readers. */
export function PresenceDot(props: { user: string; status: PresenceStatus | undefined }) {
  const status = props.status ?? 'offline';
  return <span class={`presence presence-${status}`} role="img" aria-label={`${props.user} is ${status}`} title={status} />;
}
