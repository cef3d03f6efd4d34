import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createMemoryObjectStore } from '../../adapters/local/memory-object-store.ts';
import { PermanentError, TransientError } from '../../core/errors.ts';
import type { ObjectStore } from '../../core/ports.ts';
import type { IssueDraft } from '../../core/stages/contracts.ts';
import { type DeliverIssueInput, deliverIssue, deliveryMarker } from '../../core/stages/deliver/index.ts';
import { deskState } from '../support/desk-state.ts';
import { createMemoryForge, type MemoryForge } from '../support/memory-forge.ts';
import {
  attachment,
  box,
  contextOn,
  fakeClock,
  isDeskAddress,
  mail,
  type OnStore,
  settle,
  target,
} from './support.ts';

type Input = DeliverIssueInput & OnStore;
const deliver = (input: Input) => deliverIssue(input, contextOn(input));

const draft = (overrides: Partial<IssueDraft> = {}): IssueDraft => ({
  title: 'The game crashes on start',
  description: 'It crashes.',
  labels: ['service-desk'],
  confidential: true,
  uploads: [],
  ...overrides,
});

const setup = (overrides: Partial<Input> = {}) => {
  const forge = createMemoryForge();
  const store = createMemoryObjectStore();
  const time = fakeClock();
  const input: Input = {
    mailId: 'ses-0001',
    mail: mail(),
    target: target(),
    draft: draft(),
    forge,
    store,
    clock: time.clock,
    isDeskAddress,
    ...overrides,
  };
  return { forge, store, time, input };
};

const MARKER = `pd-${createHash('sha256').update('ses-0001\0acme/game').digest('hex').slice(0, 24)}`;

const created = (forge: MemoryForge) => forge.issues('acme/game');

describe('deliverIssue', () => {
  it('creates the issue with the hidden marker, then the ticket record, the index and the done ledger entry', async () => {
    // Prepare
    const { forge, store, input } = setup({
      mail: mail({ cc: [box('bob@example.com', 'Bob'), box('support@desk.example.com')] }),
      target: target({ participants_from_cc: true }),
    });
    // Act
    const record = await deliver(input);
    // Assess
    expect(deliveryMarker('ses-0001', 'acme/game')).toBe(MARKER);
    expect(forge.callsOf('createIssue')).toHaveLength(1);
    expect(forge.callsOf('createIssue')[0]?.args[0]).toEqual({
      title: 'The game crashes on start',
      description: `It crashes.\n\n<!-- postdesk:${MARKER} -->`,
      labels: ['service-desk'],
      confidential: true,
    });
    expect(record).toMatchObject({
      project: 'acme/game',
      outcome: 'issue',
      reason: 'issue_created',
      issue: {
        iid: 1,
        url: 'https://gitlab.example.com/acme/game/-/issues/1',
        title: 'The game crashes on start',
      },
    });
    const tickets = deskState(store).tickets;
    const ticket = await tickets.get('acme/game', 1);
    expect(ticket?.participants.map((participant) => [participant.address, participant.source])).toEqual([
      ['alice@example.com', 'from'],
      ['bob@example.com', 'cc'],
    ]);
    expect(ticket).toMatchObject({
      createdFromMail: 'ses-0001',
      inboundMessageIds: ['first@mail.example.com'],
    });
    expect(await tickets.lookupMessageId('first@mail.example.com')).toEqual([
      { projectPath: 'acme/game', iid: 1 },
    ]);
    expect(await deskState(store).ledger.get('ses-0001', 'game')).toMatchObject({
      state: 'done',
      marker: MARKER,
      result: { kind: 'issue', iid: 1 },
    });
  });

  it('makes one issue from the same mail delivered twice; the second time calls no forge', async () => {
    const { forge, input } = setup();
    await deliver(input);
    const callsAfterFirst = forge.calls.length;
    const second = await deliver(input);
    expect(created(forge)).toHaveLength(1);
    expect(forge.calls.length).toBe(callsAfterFirst);
    expect(second).toMatchObject({
      outcome: 'issue',
      reason: 'duplicate_delivery',
      issue: { iid: 1, url: 'https://gitlab.example.com/acme/game/-/issues/1' },
    });
  });

  it('makes one issue when two workers deliver the same mail at once; the other gets delivery_in_progress', async () => {
    const { forge, input } = setup();
    const results = await Promise.allSettled([deliver(input), deliver(input)]);
    expect(created(forge)).toHaveLength(1);
    const fulfilled = results.filter((result) => result.status === 'fulfilled');
    const rejected = results.filter(
      (result): result is PromiseRejectedResult => result.status === 'rejected',
    );
    expect(fulfilled).toHaveLength(1);
    expect(rejected).toHaveLength(1);
    const reason: unknown = rejected[0]?.reason;
    expect(reason).toBeInstanceOf(TransientError);
    expect(reason).toMatchObject({ code: 'delivery_in_progress' });
    expect(reason instanceof TransientError ? reason.retryAfterMs : 0).toBeGreaterThan(0);
  });

  it('after a crash between createIssue and the ledger, a retry after the lease finds the issue by its marker', async () => {
    // Prepare: the first worker dies right after GitLab created the issue.
    const { forge, store, time, input } = setup();
    forge.inject({ method: 'createIssue', when: 'after', mode: 'crash' });
    void deliver(input);
    await settle();
    expect(created(forge)).toHaveLength(1);
    // Act 1: a redelivery while the lease is fresh must not touch the forge.
    const early = await deliver(input).catch((caught: unknown) => caught);
    // Act 2: after the lease.
    time.advance(5 * 60_000);
    const record = await deliver(input);
    // Assess
    expect(early).toMatchObject({ name: 'TransientError', code: 'delivery_in_progress' });
    expect(created(forge)).toHaveLength(1);
    expect(forge.callsOf('createIssue')).toHaveLength(1);
    expect(forge.callsOf('findIssueByMarker').map((call) => call.args)).toEqual([[MARKER]]);
    expect(record).toMatchObject({ outcome: 'issue', reason: 'recovered_by_marker', issue: { iid: 1 } });
    expect(await deskState(store).ledger.get('ses-0001', 'game')).toMatchObject({
      state: 'done',
      attempt: 2,
    });
    expect((await deskState(store).tickets.get('acme/game', 1))?.participants).toHaveLength(1);
    expect(await deliver(input)).toMatchObject({ reason: 'duplicate_delivery' });
  });

  it('keeps the lease when createIssue failed ambiguously (it may have happened), then recovers by marker', async () => {
    const { forge, time, input } = setup();
    const timeout = new TransientError('forge_timeout', 'POST /issues timed out');
    forge.inject({ method: 'createIssue', when: 'after', mode: 'throw', error: timeout });
    await expect(deliver(input)).rejects.toBe(timeout);
    await expect(deliver(input)).rejects.toMatchObject({ code: 'delivery_in_progress' });
    time.advance(5 * 60_000 + 1);
    expect(await deliver(input)).toMatchObject({ reason: 'recovered_by_marker' });
    expect(created(forge)).toHaveLength(1);
  });

  it('releases the lease when it failed before any create, so the retry proceeds at once', async () => {
    const { forge, input } = setup({
      draft: draft({ uploads: [attachment(0, Buffer.from('x'), 'text/plain', 'a.txt').plan] }),
    });
    const unavailable = new TransientError('forge_unavailable', '503 from GitLab');
    forge.inject({ method: 'uploadFile', when: 'before', mode: 'throw', error: unavailable });
    await expect(deliver(input)).rejects.toBe(unavailable);
    expect(forge.callsOf('createIssue')).toHaveLength(0);
    expect(await deliver(input)).toMatchObject({ reason: 'issue_created' });
    expect(forge.callsOf('findIssueByMarker')).toHaveLength(1);
    expect(created(forge)).toHaveLength(1);
  });

  it('releases the lease when the issue exists but the ticket record failed; the retry finds it at once', async () => {
    // Prepare: the ticket record's first write fails (S3 503).
    const { forge, store, input } = setup();
    let failures = 1;
    const flaky: ObjectStore = {
      ...store,
      list: (prefix) => store.list(prefix),
      async putIfAbsent(key, body) {
        if (key.startsWith('tickets/') && failures-- > 0)
          throw new TransientError('store_unavailable', 'S3 503');
        return store.putIfAbsent(key, body);
      },
    };
    // Act
    await expect(deliver({ ...input, store: flaky })).rejects.toMatchObject({
      code: 'store_unavailable',
    });
    const record = await deliver({ ...input, store: flaky });
    // Assess
    expect(record).toMatchObject({ reason: 'recovered_by_marker', issue: { iid: 1 } });
    expect(created(forge)).toHaveLength(1);
    expect(await deskState(store).tickets.get('acme/game', 1)).toBeDefined();
  });

  it('streams every upload into the forge and puts each URL inside the existing Markdown link', async () => {
    // Prepare
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4]);
    const log = Buffer.from('line 1\nline 2\n');
    const shot = attachment(0, png, 'image/png', 'screen shot (1).png');
    const text = attachment(1, log, 'text/plain', 'game.log');
    const { forge, input } = setup({
      draft: draft({
        description:
          'See ![screen shot](postdesk-upload://0) here.\n\n---\n\n* [game.log](postdesk-upload://1)',
        uploads: [shot.plan, text.plan],
      }),
    });
    // Act
    const record = await deliver(input);
    // Assess
    expect(
      forge.uploads.map((upload) => [upload.filename, upload.contentType, upload.size, upload.content]),
    ).toEqual([
      ['screen shot (1).png', 'image/png', png.length, png],
      ['game.log', 'text/plain', log.length, log],
    ]);
    expect(shot.opened()).toBe(1);
    expect(text.opened()).toBe(1);
    const description = created(forge)[0]?.description ?? '';
    expect(description).toContain(
      'See ![screen shot](/uploads/00000000000000000000000000000001/screen%20shot%20%281%29.png) here.',
    );
    expect(description).toContain('* [game.log](/uploads/00000000000000000000000000000002/game.log)');
    expect(description).not.toContain('postdesk-upload://');
    expect(record.issue?.uploads).toEqual([
      { filename: 'screen shot (1).png', contentType: 'image/png', size: png.length, inline: true },
      { filename: 'game.log', contentType: 'text/plain', size: log.length, inline: false },
    ]);
  });

  it('uploads in parallel within the bound (default 6, or as given)', async () => {
    const plans = Array.from(
      { length: 9 },
      (_, index) => attachment(index, Buffer.from(`file ${index}`), 'text/plain', `f${index}.txt`).plan,
    );
    const first = setup({ draft: draft({ uploads: plans }) });
    first.forge.uploadDelayMs = 5;
    await deliver(first.input);
    expect(first.forge.maxConcurrentUploads).toBe(6);

    const second = setup({ draft: draft({ uploads: plans }), uploadConcurrency: 2 });
    second.forge.uploadDelayMs = 5;
    await deliver(second.input);
    expect(second.forge.maxConcurrentUploads).toBe(2);
    expect(second.forge.uploads.map((upload) => upload.filename)).toEqual(plans.map((plan) => plan.filename));
  });

  it('lets a PermanentError from the forge through unchanged', async () => {
    const { forge, input } = setup();
    const forbidden = new PermanentError(
      'forge_forbidden',
      'the bot cannot create issues in acme/game: give it Reporter',
    );
    forge.inject({ method: 'createIssue', when: 'before', mode: 'throw', error: forbidden });
    await expect(deliver(input)).rejects.toBe(forbidden);
  });

  it('reports Cc addresses the participant cap left out, by count only', async () => {
    const cc = Array.from({ length: 11 }, (_, index) => box(`cc${index}@example.com`));
    const { input } = setup({ mail: mail({ cc }), target: target({ participants_from_cc: true }) });
    const record = await deliver(input);
    expect(record.message).toBe('2 Cc addresses were not added as participants: a ticket has at most 10');
    expect(record.message).not.toContain('@');
  });

  it('gives two projects that receive the same mail two issues with different markers', async () => {
    const { forge, store, time, input } = setup();
    const web = { ...target(), project: { ...target().project, path: 'acme/web', key: 'web' } };
    await deliver(input);
    await deliver({ ...input, target: web, forge, store, clock: time.clock });
    expect(created(forge)).toHaveLength(1);
    expect(forge.issues('acme/web')).toHaveLength(1);
    expect(forge.issues('acme/web')[0]?.description).toContain(deliveryMarker('ses-0001', 'acme/web'));
    expect(deliveryMarker('ses-0001', 'acme/web')).not.toBe(MARKER);
  });
});
