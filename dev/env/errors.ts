/**
 * A test-environment failure a person can act on: what went wrong and how to fix it.
 * The CLI and the vitest global setup print `message` and fail; nothing is skipped.
 */
export class EnvError extends Error {
  constructor(
    message: string,
    readonly remedy?: string,
  ) {
    super(remedy === undefined ? message : `${message}\n  → ${remedy}`);
    this.name = 'EnvError';
  }
}
