import { describe, expect, it } from 'vitest';
import { createMemoryObjectStore } from '../../adapters/local/memory-object-store.ts';
import { createQuarantine } from '../../core/state/quarantine.ts';
import type { DecisionTrace } from '../../core/trace.ts';

const clock = { now: () => new Date('2025-03-01T08:00:00Z') };

const trace = (mailId: string): DecisionTrace => ({
  mailId,
  receivedAt: '2025-03-01T07:59:00.000Z',
  mail: {},
  outcome: 'quarantined',
  reason: 'reply_from_stranger',
  message: 'the sender is not a participant',
  routes: [],
  stages: [],
  deliveries: [],
  dryRun: false,
});

const entry = (mailId: string) => ({
  mailId,
  rawKey: `mail/${mailId}`,
  reason: 'reply_from_stranger',
  message: 'the sender is not a participant',
  trace: trace(mailId),
});

describe('quarantine', () => {
  it('stores an entry at quarantine/<id>.json, by default under the mail id', async () => {
    const store = createMemoryObjectStore();
    const quarantine = createQuarantine(store, { clock });
    const stored = await quarantine.put(entry('ses-1'));
    expect(stored).toMatchObject({ id: 'ses-1', createdAt: '2025-03-01T08:00:00.000Z' });
    expect(Object.keys(store.snapshot())).toEqual(['quarantine/ses-1.json']);
    expect(await quarantine.get('ses-1')).toEqual(stored);
    expect(await quarantine.get('ses-2')).toBeUndefined();
  });

  it('keeps a caller-given createdAt and hashes an unsafe mail id into the entry id', async () => {
    const quarantine = createQuarantine(createMemoryObjectStore(), { clock });
    const stored = await quarantine.put({ ...entry('a/../b'), createdAt: '2024-12-31T00:00:00.000Z' });
    expect(stored.id).toMatch(/^h-[0-9a-f]{32}$/);
    expect(stored.createdAt).toBe('2024-12-31T00:00:00.000Z');
    expect((await quarantine.get(stored.id))?.mailId).toBe('a/../b');
  });

  it('lists entries in key order and leaves released ones out unless asked', async () => {
    const quarantine = createQuarantine(createMemoryObjectStore(), { clock });
    await quarantine.put(entry('ses-b'));
    await quarantine.put(entry('ses-a'));
    await quarantine.put(entry('ses-c'));
    const released = await quarantine.markReleased('ses-b');
    expect(released.releasedAt).toBe('2025-03-01T08:00:00.000Z');

    const open: string[] = [];
    for await (const item of quarantine.list()) open.push(item.id);
    const all: string[] = [];
    for await (const item of quarantine.list({ includeReleased: true })) all.push(item.id);
    expect(open).toEqual(['ses-a', 'ses-c']);
    expect(all).toEqual(['ses-a', 'ses-b', 'ses-c']);
  });

  it('says quarantine_not_found when releasing an unknown id', async () => {
    const quarantine = createQuarantine(createMemoryObjectStore(), { clock });
    await expect(quarantine.markReleased('nope')).rejects.toMatchObject({ code: 'quarantine_not_found' });
    await expect(quarantine.get('../x')).rejects.toMatchObject({ code: 'quarantine_id_invalid' });
  });
});
