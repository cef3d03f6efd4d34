import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  DynamoDBServiceException,
  ProvisionedThroughputExceededException,
  RequestLimitExceeded,
  ResourceNotFoundException,
  TransactionConflictException,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { dynamoState } from '../../../adapters/aws/dynamo/index.ts';
import { PermanentError, TransientError } from '../../../core/errors.ts';

const documents = mockClient(DynamoDBDocumentClient);
afterEach(() => {
  documents.reset();
});

const clock = { now: () => new Date('2025-01-01T00:00:00Z') };
const state = () =>
  dynamoState({
    client: new DynamoDBClient({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    }),
    tableName: 'desk-state',
    clock,
  });

const metadata = (httpStatusCode: number) => ({ $metadata: { httpStatusCode } });

const throttled = {
  ThrottlingException: new DynamoDBServiceException({
    name: 'ThrottlingException',
    $fault: 'client',
    message: 'Rate of requests exceeds the allowed throughput.',
    ...metadata(400),
  }),
  ProvisionedThroughputExceededException: new ProvisionedThroughputExceededException({
    message: 'throughput exceeded',
    ...metadata(400),
  }),
  RequestLimitExceeded: new RequestLimitExceeded({ message: 'account limit', ...metadata(400) }),
  TransactionConflictException: new TransactionConflictException({ message: 'conflict', ...metadata(400) }),
  InternalServerError: new DynamoDBServiceException({
    name: 'InternalServerError',
    $fault: 'server',
    message: 'internal',
    ...metadata(500),
  }),
  ServiceUnavailable: new DynamoDBServiceException({
    name: 'ServiceUnavailable',
    $fault: 'server',
    message: 'unavailable',
    ...metadata(503),
  }),
};

describe('dynamoState error mapping', () => {
  it.each(Object.entries(throttled))('turns %s into a TransientError', async (name, error) => {
    // Prepare
    documents.on(GetCommand).rejects(error);
    // Act
    const read = state().tickets.get('acme/game', 1);
    // Assess
    await expect(read).rejects.toBeInstanceOf(TransientError);
    await expect(state().tickets.get('acme/game', 1)).rejects.toThrow(
      new RegExp(`table desk-state.*${name}`),
    );
    expect(documents.commandCalls(GetCommand)).toHaveLength(2);
  });

  it('treats a failed condition as a lost race, not an error', async () => {
    // Prepare
    documents.on(GetCommand).resolves({});
    documents
      .on(PutCommand)
      .rejects(
        new ConditionalCheckFailedException({ message: 'The conditional request failed', ...metadata(400) }),
      );
    // Act
    const begun = state().ledger.begin({
      mailId: 'ses-1',
      projectKey: 'game',
      projectPath: 'acme/game',
      kind: 'issue',
      marker: 'pd-1',
    });
    const outbound = state().outbound.recordSent('acme/game', 1, 'job', 'mid');
    // Assess: the entry "exists" yet reads back absent every round
    await expect(begun).rejects.toMatchObject({ code: 'ledger_unstable' });
    await expect(outbound).rejects.toMatchObject({ name: 'TransientError', code: 'outbound_state_conflict' });
  });

  it('names the table and the fix for a missing table', async () => {
    // Prepare
    documents
      .on(GetCommand)
      .rejects(new ResourceNotFoundException({ message: 'Requested resource not found', ...metadata(400) }));
    // Act
    const read = state().quarantine.get('ses-1');
    // Assess
    await expect(read).rejects.toBeInstanceOf(PermanentError);
    await expect(state().quarantine.get('ses-1')).rejects.toThrow(/create table desk-state/);
  });

  it('says which limit a too-large quarantine entry hit', async () => {
    // Prepare
    documents.on(UpdateCommand).rejects(
      new DynamoDBServiceException({
        name: 'ValidationException',
        $fault: 'client',
        message: 'Item size has exceeded the maximum allowed size',
        ...metadata(400),
      }),
    );
    // Act
    const put = state().quarantine.put({
      mailId: 'ses-1',
      rawKey: 'mail/ses-1',
      reason: 'forge_forbidden',
      message: 'm',
      trace: { mailId: 'ses-1', stages: [] } as never,
    });
    // Assess
    await expect(put).rejects.toThrow(/400 KB item limit/);
  });

  it('names the grant for a denied action', async () => {
    // Prepare
    documents.on(GetCommand).rejects(
      new DynamoDBServiceException({
        name: 'AccessDeniedException',
        $fault: 'client',
        message: 'not authorized to perform: dynamodb:GetItem',
        ...metadata(400),
      }),
    );
    // Act
    const read = state().ledger.get('ses-1', 'game');
    // Assess
    await expect(read).rejects.toMatchObject({ name: 'PermanentError', code: 'state_table_unusable' });
    await expect(state().ledger.get('ses-1', 'game')).rejects.toThrow(/grant the function dynamodb:GetItem/);
  });
});
