import { Redis } from 'ioredis';

/** Commands Redis has processed: the total and the calls of each command. */
export interface CommandCounts {
  total: number;
  /** Command name (`xadd`, `client|setname`, ...) → calls. */
  byCommand: Record<string, number>;
}

/** Reads Redis's own command counters (`INFO stats` and `INFO commandstats`). */
export class RedisCommandCounter {
  private constructor(private readonly redis: Redis) {}

  static async connect(url: string): Promise<RedisCommandCounter> {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectionName: 'bench-command-counter' });
    await redis.connect();
    return new RedisCommandCounter(redis);
  }

  /** The counters now. One INFO call: it counts itself the same way in every interval. */
  async read(): Promise<CommandCounts> {
    const text = await this.redis.info('stats', 'commandstats');
    const byCommand: Record<string, number> = {};
    for (const line of text.split(/\r?\n/)) {
      const command = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
      if (command?.[1] !== undefined && command[2] !== undefined) byCommand[command[1]] = Number(command[2]);
    }
    return { total: infoCount(text, 'total_commands_processed'), byCommand };
  }

  /** The members of a set, e.g. the group-nodes set scenario 3 checks. */
  members(key: string): Promise<string[]> {
    return this.redis.smembers(key);
  }

  close(): void {
    this.redis.disconnect();
  }
}

/** A whole-number field of an `INFO` reply (`name:123`); throws when the reply has none. */
export function infoCount(info: string, name: string): number {
  const match = new RegExp(`^${name}:(\\d+)`, 'm').exec(info);
  if (match?.[1] === undefined) throw new Error(`INFO has no ${name}`);
  return Number(match[1]);
}

/** `after - before`, per command, leaving out commands that did not change. */
export function commandsBetween(before: CommandCounts, after: CommandCounts): CommandCounts {
  const byCommand: Record<string, number> = {};
  for (const name of new Set([...Object.keys(before.byCommand), ...Object.keys(after.byCommand)])) {
    const delta = (after.byCommand[name] ?? 0) - (before.byCommand[name] ?? 0);
    if (delta !== 0) byCommand[name] = delta;
  }
  return { total: after.total - before.total, byCommand };
}
