import {
  DescribeActiveReceiptRuleSetCommand,
  DescribeReceiptRuleSetCommand,
  SESClient,
  SetActiveReceiptRuleSetCommand,
} from '@aws-sdk/client-ses';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CREATE_FAILED_ID,
  type GuardEvent,
  type GuardMode,
  handler,
  physicalIdOf,
  processEvent,
} from '../../infra/handlers/rule-set-guard.ts';

/**
 * A fake SES control plane: rule sets with their rules, the one active set of the region, and
 * CloudFormation's own deletes after the guard's (SES refuses to delete the active set).
 */
class FakeSes {
  readonly sets = new Map<string, string[]>();
  active: string | undefined;

  deleteRuleSet(name: string): void {
    if (this.active === name) throw new Error(`CannotDelete: ${name} is the active receipt rule set`);
    this.sets.delete(name);
  }
}

const OURS = 'postdesk-receipt-rules';
const OUR_RULE = 'postdesk-inbound';
const sesMock = mockClient(SESClient);
let fake: FakeSes;
const client = new SESClient({ region: 'eu-west-1' });

const missingSet = (name: string): Error =>
  Object.assign(new Error(`Rule set does not exist: ${name}`), { name: 'RuleSetDoesNotExistException' });

beforeEach(() => {
  fake = new FakeSes();
  sesMock.reset();
  sesMock.on(DescribeActiveReceiptRuleSetCommand).callsFake(() =>
    fake.active === undefined
      ? {}
      : {
          Metadata: { Name: fake.active },
          Rules: (fake.sets.get(fake.active) ?? []).map((Name) => ({ Name })),
        },
  );
  sesMock.on(DescribeReceiptRuleSetCommand).callsFake((input: { RuleSetName: string }) => {
    const rules = fake.sets.get(input.RuleSetName);
    if (rules === undefined) throw missingSet(input.RuleSetName);
    return { Metadata: { Name: input.RuleSetName }, Rules: rules.map((Name) => ({ Name })) };
  });
  sesMock.on(SetActiveReceiptRuleSetCommand).callsFake((input: { RuleSetName?: string }) => {
    if (input.RuleSetName === undefined) {
      fake.active = undefined;
      return {};
    }
    if (!fake.sets.has(input.RuleSetName)) throw missingSet(input.RuleSetName);
    fake.active = input.RuleSetName;
    return {};
  });
});

afterEach(() => {
  vi.unstubAllGlobals();
});

const event = (
  requestType: GuardEvent['RequestType'],
  mode: GuardMode,
  extra: Partial<GuardEvent> = {},
): GuardEvent => ({
  RequestType: requestType,
  ResponseURL: 'https://cloudformation-custom-resource-response.example/response',
  StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/postdesk-stateless/1',
  RequestId: 'request-1',
  LogicalResourceId: 'Guard',
  ...(requestType === 'Create' ? {} : { PhysicalResourceId: physicalIdOf(OURS) }),
  ResourceProperties: { RuleSetName: OURS, RuleNames: [OUR_RULE], Mode: mode },
  ...extra,
});

const writes = (): number => sesMock.commandCalls(SetActiveReceiptRuleSetCommand).length;

describe('rule set guard, create mode', () => {
  it('create: leaves the region as it is', async () => {
    fake.sets.set(OURS, [OUR_RULE]);
    fake.sets.set('platform', ['platform-first']);
    fake.active = 'platform';
    const response = await processEvent(event('Create', 'create'), client);
    expect(response.Status).toBe('SUCCESS');
    expect(fake.active).toBe('platform');
  });

  it('update: changes nothing either', async () => {
    fake.sets.set(OURS, [OUR_RULE]);
    await processEvent(event('Update', 'create', { OldResourceProperties: { RuleSetName: OURS } }), client);
    expect(writes()).toBe(0);
  });

  it('delete: deactivates our set when it is active and holds only our rule, so CloudFormation can delete it', async () => {
    fake.sets.set(OURS, [OUR_RULE]);
    fake.active = OURS;
    const response = await processEvent(event('Delete', 'create'), client);
    expect(response.Status).toBe('SUCCESS');
    expect(() => fake.deleteRuleSet(OURS)).not.toThrow();
  });

  it('delete: fails, saying what to do, when our active set holds another rule', async () => {
    fake.sets.set(OURS, [OUR_RULE, 'team-forward']);
    fake.active = OURS;
    const response = await processEvent(event('Delete', 'create'), client);
    expect(response).toMatchObject({
      Status: 'FAILED',
      Reason: expect.stringMatching(
        /holds rules Postdesk did not create \(team-forward\).*Move them to another rule set/,
      ),
    });
    expect(fake.active).toBe(OURS);
  });

  it('delete: leaves another active set alone when ours is inactive', async () => {
    fake.sets.set(OURS, [OUR_RULE]);
    fake.sets.set('platform', ['platform-first']);
    fake.active = 'platform';
    await processEvent(event('Delete', 'create'), client);
    expect(fake.active).toBe('platform');
  });

  it('rollback of a failed create: succeeds and touches nothing', async () => {
    fake.sets.set(OURS, [OUR_RULE]);
    fake.active = OURS;
    const created = await processEvent(
      event('Create', 'create', { ResourceProperties: { RuleSetName: OURS, Mode: 'create' } }),
      client,
    );
    const rollback = await processEvent(
      event('Delete', 'create', { PhysicalResourceId: created.PhysicalResourceId }),
      client,
    );
    expect([created.Status, rollback.Status, fake.active]).toEqual(['FAILED', 'SUCCESS', OURS]);
  });

  it('delete: succeeds when the set is already gone', async () => {
    const response = await processEvent(event('Delete', 'create'), client);
    expect(response.Status).toBe('SUCCESS');
  });
});

describe('rule set guard, create-and-activate mode', () => {
  it('create: activates our set when none is active', async () => {
    fake.sets.set(OURS, [OUR_RULE]);
    const response = await processEvent(event('Create', 'create-and-activate'), client);
    expect(response).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: physicalIdOf(OURS) });
    expect(fake.active).toBe(OURS);
  });

  it('create: refuses to replace another active set and says what to deploy instead', async () => {
    fake.sets.set(OURS, [OUR_RULE]);
    fake.sets.set('platform', ['platform-first']);
    fake.active = 'platform';
    const response = await processEvent(event('Create', 'create-and-activate'), client);
    expect(response).toMatchObject({
      Status: 'FAILED',
      PhysicalResourceId: CREATE_FAILED_ID,
      Reason: expect.stringContaining('-c ruleSetMode=existing -c existingRuleSetName=platform'),
    });
    expect(fake.active).toBe('platform');
  });

  it('rollback of the failed create: succeeds and touches nothing', async () => {
    fake.sets.set(OURS, [OUR_RULE]);
    fake.sets.set('platform', ['platform-first']);
    fake.active = 'platform';
    const created = await processEvent(event('Create', 'create-and-activate'), client);
    const rollback = await processEvent(
      event('Delete', 'create-and-activate', { PhysicalResourceId: created.PhysicalResourceId }),
      client,
    );
    expect(rollback.Status).toBe('SUCCESS');
    expect(writes()).toBe(0);
  });

  it('rollback after our create succeeded and another resource failed: the activation is undone', async () => {
    fake.sets.set(OURS, [OUR_RULE]);
    const created = await processEvent(event('Create', 'create-and-activate'), client);
    await processEvent(
      event('Delete', 'create-and-activate', { PhysicalResourceId: created.PhysicalResourceId }),
      client,
    );
    expect(fake.active).toBeUndefined();
  });

  it('update: moves activation from our old set to the renamed one', async () => {
    fake.sets.set('postdesk-old-rules', [OUR_RULE]);
    fake.sets.set(OURS, [OUR_RULE]);
    fake.active = 'postdesk-old-rules';
    const response = await processEvent(
      event('Update', 'create-and-activate', {
        OldResourceProperties: { RuleSetName: 'postdesk-old-rules' },
      }),
      client,
    );
    expect(response.Status).toBe('SUCCESS');
    expect(fake.active).toBe(OURS);
  });

  it('update: keeps the resource id when it fails, so CloudFormation rolls back', async () => {
    fake.sets.set(OURS, [OUR_RULE]);
    fake.sets.set('platform', ['platform-first']);
    fake.active = 'platform';
    const response = await processEvent(
      event('Update', 'create-and-activate', { OldResourceProperties: { RuleSetName: OURS } }),
      client,
    );
    expect(response).toMatchObject({ Status: 'FAILED', PhysicalResourceId: physicalIdOf(OURS) });
  });

  it('delete: refuses to delete our set while it holds rules that are not ours', async () => {
    fake.sets.set(OURS, [OUR_RULE, 'team-forward']);
    fake.active = OURS;
    const response = await processEvent(event('Delete', 'create-and-activate'), client);
    expect(response).toMatchObject({
      Status: 'FAILED',
      Reason: expect.stringContaining('aws ses delete-receipt-rule --rule-set-name postdesk-receipt-rules'),
    });
    expect(writes()).toBe(0);
  });

  it('delete: refuses too when that set is inactive', async () => {
    fake.sets.set(OURS, [OUR_RULE, 'team-forward']);
    const response = await processEvent(event('Delete', 'create-and-activate'), client);
    expect(response.Status).toBe('FAILED');
  });

  it('delete: deactivates our set holding only our rule', async () => {
    fake.sets.set(OURS, [OUR_RULE]);
    fake.active = OURS;
    await processEvent(event('Delete', 'create-and-activate'), client);
    expect(fake.active).toBeUndefined();
  });

  it('reports an SES error as a failure instead of throwing', async () => {
    sesMock
      .on(DescribeActiveReceiptRuleSetCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling' }));
    fake.sets.set(OURS, [OUR_RULE]);
    const response = await processEvent(event('Create', 'create-and-activate'), client);
    expect(response).toMatchObject({ Status: 'FAILED', Reason: 'Throttling: Rate exceeded' });
  });
});

describe('rule set guard handler', () => {
  it('PUTs the answer to the response URL with an empty content type', async () => {
    fake.sets.set(OURS, [OUR_RULE]);
    const put = vi.fn(async (_url: string, _init: RequestInit) => new Response(null, { status: 200 }));
    vi.stubGlobal('fetch', put);
    vi.spyOn(console, 'log').mockImplementation(() => undefined);
    await handler(event('Create', 'create-and-activate'));
    expect(put).toHaveBeenCalledWith(
      'https://cloudformation-custom-resource-response.example/response',
      expect.objectContaining({
        method: 'PUT',
        headers: { 'content-type': '' },
        body: expect.stringContaining('"Status":"SUCCESS"'),
      }),
    );
  });
});
