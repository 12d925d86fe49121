import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** The structured JSON logger of a process (chat node or operator), to stdout. */
export function createLogger(component: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { component }, timestamp: pino.stdTimeFunctions.isoTime });
}
