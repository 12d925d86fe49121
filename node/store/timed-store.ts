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
  // One wrapper per method, made on first use (store calls are on the send path), and keyed
  // by the function itself, so a method replaced on the store later is the one called.
  // Every method of Store returns a promise (the interface says so); the Proxy cannot know the types.
  type Method = (...args: unknown[]) => Promise<unknown>;
  const wrapped = new WeakMap<Method, Method>();
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof property !== 'string' || typeof value !== 'function' || UNTIMED.has(property)) return value;
      const method = value as Method;
      let timed = wrapped.get(method);
      if (timed === undefined) {
        const operation = property.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
        timed = (...args: unknown[]) => time(operation, () => method.apply(target, args));
        wrapped.set(method, timed);
      }
      return timed;
    },
  });
}
