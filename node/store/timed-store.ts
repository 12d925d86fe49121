import type { Store } from './store.js';

/** Times one store call into `chat_store_latency_seconds{operation}` (NodeMetrics.timeStore). */
export type StoreTimer = <T>(operation: string, call: () => Promise<T>) => Promise<T>;

/** Probes and shutdown are not store traffic. */
const UNTIMED = new Set<string>(['isHealthy', 'close']);

/**
 * The store with every call timed, applied once where the node is put together rather than
 * at each call site. The operation label is the method's name in snake_case
 * (`appendMessage` → `append_message`), as the dashboards read it.
 */
export function timedStore(store: Store, time: StoreTimer): Store {
  // Every method of Store returns a promise (the interface says so); the Proxy cannot know the types.
  type Method = (...args: unknown[]) => Promise<unknown>;
  // One wrapper per method name, made on first use (store calls are on the send path), and
  // made again when the store's method under that name was replaced since (as tests do).
  const wrapped = new Map<string, { method: Method; timed: Method }>();
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof property !== 'string' || typeof value !== 'function' || UNTIMED.has(property)) return value;
      const method = value as Method;
      const known = wrapped.get(property);
      if (known?.method === method) return known.timed;
      const operation = property.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
      const timed: Method = (...args) => time(operation, () => method.apply(target, args));
      wrapped.set(property, { method, timed });
      return timed;
    },
  });
}
