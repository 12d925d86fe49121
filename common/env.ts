import { z } from 'zod';

/** A bad or missing environment variable, named, so the process can exit saying which. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses one environment variable with a zod schema; the error names the variable and
 * what was wrong with it. An empty string counts as unset.
 */
export function readVariable<Schema extends z.ZodType>(
  env: NodeJS.ProcessEnv,
  name: string,
  schema: Schema,
  options: { secret?: boolean } = {},
): z.output<Schema> {
  const raw = env[name];
  const result = schema.safeParse(raw === '' ? undefined : raw);
  if (!result.success) {
    const problem = result.error.issues.map((issue) => issue.message).join('; ');
    // A secret's value must not reach the logs, even a wrong one.
    const got = raw === undefined ? 'nothing' : options.secret === true ? `${raw.length} characters` : JSON.stringify(raw);
    throw new ConfigError(name, `${problem} (got ${got})`);
  }
  return result.data;
}

/** A TCP port number from a string. */
export const portNumber = z.coerce.number().int().min(1).max(65535);

/** A whole number of at least `min` from a string. */
export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER): z.ZodCoercedNumber {
  return z.coerce.number().int().min(min).max(max);
}
