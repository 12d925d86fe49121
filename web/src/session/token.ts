const STORAGE_KEY = 'chatcluster.token';

/**
 * The token to sign in with: from the page's `#token=…` fragment (a fragment never goes to
 * the server; it is removed from the address bar at once), else from this tab's storage.
 */
export function takeToken(location: Location, history: History, storage: Storage): string | undefined {
  const fromFragment = new URLSearchParams(location.hash.replace(/^#/, '')).get('token');
  if (fromFragment !== null && fromFragment !== '') {
    storage.setItem(STORAGE_KEY, fromFragment);
    history.replaceState(null, '', `${location.pathname}${location.search}`);
    return fromFragment;
  }
  return storage.getItem(STORAGE_KEY) ?? undefined;
}

export function keepToken(storage: Storage, token: string): void {
  storage.setItem(STORAGE_KEY, token);
}

export function forgetToken(storage: Storage): void {
  storage.removeItem(STORAGE_KEY);
}

/** The user a JWT names (`sub`), read without verifying: the node verifies it. */
export function userOfToken(token: string): string | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const json = atob(payload.replaceAll('-', '+').replaceAll('_', '/'));
    const sub = (JSON.parse(json) as { sub?: unknown }).sub;
    return typeof sub === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(sub) ? sub : undefined;
  } catch {
    return undefined;
  }
}
