import { describe, expect, it } from 'vitest';
import { MemoryStore } from './memory-store.js';
import { timedStore } from './timed-store.js';

describe('timedStore', () => {
  it('times every store call under its method name in snake_case, and answers as the store does', async () => {
    const timed: string[] = [];
    const store = timedStore(new MemoryStore(), (operation, call) => {
      timed.push(operation);
      return call();
    });
    expect(await store.createGroup({ name: 'team', createdBy: 'alice', createdAt: 1 })).toBe(true);
    await store.addMember('team', 'alice');
    expect(await store.isMember('team', 'alice')).toBe(true);
    expect(await store.groupsOf('alice')).toEqual(['team']);
    expect(await store.isHealthy()).toBe(true);
    expect(timed).toEqual(['create_group', 'add_member', 'is_member', 'groups_of']);
  });

  it('passes a failure through, timed as well', async () => {
    const timed: string[] = [];
    const failing = new MemoryStore();
    failing.members = () => Promise.reject(new Error('down'));
    const store = timedStore(failing, (operation, call) => {
      timed.push(operation);
      return call();
    });
    await expect(store.members('team')).rejects.toThrow('down');
    expect(timed).toEqual(['members']);
  });

  it('calls a method replaced on the store after it was first used, timed under the same name', async () => {
    const timed: string[] = [];
    const memory = new MemoryStore();
    const store = timedStore(memory, (operation, call) => {
      timed.push(operation);
      return call();
    });
    expect(await store.groupsOf('alice')).toEqual([]);
    memory.groupsOf = () => Promise.resolve(['replaced']);
    expect(await store.groupsOf('alice')).toEqual(['replaced']);
    expect(timed).toEqual(['groups_of', 'groups_of']);
  });
});
