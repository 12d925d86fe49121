import { describe, expect, it } from 'vitest';
import { MemoryStore } from './memory-store.js';
import type { Store } from './store.js';
import { timedStore } from './timed-store.js';

/** `memory` timed by a timer that records the operation of each call. */
function recordedTimes(memory: MemoryStore): { store: Store; timed: string[] } {
  const timed: string[] = [];
  const store = timedStore(memory, (operation, call) => {
    timed.push(operation);
    return call();
  });
  return { store, timed };
}

describe('timedStore', () => {
  it('times every store call under its method name in snake_case, and answers as the store does', async () => {
    const { store, timed } = recordedTimes(new MemoryStore());
    expect(await store.createGroup({ name: 'team', createdBy: 'alice', createdAt: 1 })).toBe(true);
    await store.addMember('team', 'alice');
    expect(await store.isMember('team', 'alice')).toBe(true);
    expect(await store.groupsOf('alice')).toEqual(['team']);
    expect(await store.isHealthy()).toBe(true);
    expect(timed).toEqual(['create_group', 'add_member', 'is_member', 'groups_of']);
  });

  it('passes a failure through, timed as well', async () => {
    const failing = new MemoryStore();
    failing.members = () => Promise.reject(new Error('down'));
    const { store, timed } = recordedTimes(failing);
    await expect(store.members('team')).rejects.toThrow('down');
    expect(timed).toEqual(['members']);
  });

  it('calls a method replaced on the store after it was first used, timed under the same name', async () => {
    const memory = new MemoryStore();
    const { store, timed } = recordedTimes(memory);
    expect(await store.groupsOf('alice')).toEqual([]);
    memory.groupsOf = () => Promise.resolve(['replaced']);
    expect(await store.groupsOf('alice')).toEqual(['replaced']);
    expect(timed).toEqual(['groups_of', 'groups_of']);
  });

  it('times one function under each name it is stood in under', async () => {
    const memory = new MemoryStore();
    const { store, timed } = recordedTimes(memory);
    const none = (): Promise<string[]> => Promise.resolve([]);
    memory.groupsOf = none;
    memory.members = none;
    await store.groupsOf('alice');
    await store.members('team');
    expect(timed).toEqual(['groups_of', 'members']);
  });
});
