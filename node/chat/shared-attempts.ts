/**
 * Work done once per key and awaited by everyone who needs it done: every socket of a user
 * waits for the same read and hosting of that user's groups, every member of a group for the
 * same write of this node into the group's route. A failed attempt is forgotten as it fails,
 * so the next caller tries afresh instead of inheriting the failure (or, worse, taking a
 * failed attempt for a done one).
 */
export class SharedAttempts<Key> {
  private readonly attempts = new Map<Key, Promise<void>>();

  /** The attempt under way or done for `key`; starts `work` when there is none. */
  run(key: Key, work: () => Promise<void>): Promise<void> {
    const current = this.attempts.get(key);
    if (current !== undefined) return current;
    const attempt = work().catch((error: unknown) => {
      if (this.attempts.get(key) === attempt) this.attempts.delete(key);
      throw error;
    });
    this.attempts.set(key, attempt);
    return attempt;
  }

  /** Forgets a done attempt (what it did was undone): the next `run` does the work again. */
  forget(key: Key): void {
    this.attempts.delete(key);
  }
}
