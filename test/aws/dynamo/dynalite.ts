import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { TABLE_KEY } from '../../../adapters/aws/dynamo/index.ts';

/**
 * A real DynamoDB API on loopback (dynalite, DynamoDB's wire protocol over LevelDB in memory),
 * started and stopped by the tests. It has no UpdateTimeToLive: TTL-expired items are made by
 * writing `expires_at` in the past, which is also what a lagging TTL sweep leaves behind.
 */

const require = createRequire(import.meta.url);
const dynalite = require('dynalite') as (options: { createTableMs: number }) => Server;

export interface Dynalite {
  client: DynamoDBClient;
  /** Another client on the same server, with its own middleware stack. */
  newClient(): DynamoDBClient;
  /** A fresh table with the desk's key schema. */
  createTable(): Promise<string>;
  stop(): Promise<void>;
}

let tables = 0;

export const startDynalite = async (): Promise<Dynalite> => {
  const server = dynalite({ createTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const newClient = () =>
    new DynamoDBClient({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
  const client = newClient();
  return {
    client,
    newClient,
    async createTable() {
      tables += 1;
      const name = `postdesk-state-${tables}`;
      await client.send(
        new CreateTableCommand({
          TableName: name,
          BillingMode: 'PAY_PER_REQUEST',
          KeySchema: [
            { AttributeName: TABLE_KEY.partitionKey.name, KeyType: 'HASH' },
            { AttributeName: TABLE_KEY.sortKey.name, KeyType: 'RANGE' },
          ],
          AttributeDefinitions: [
            { AttributeName: TABLE_KEY.partitionKey.name, AttributeType: TABLE_KEY.partitionKey.type },
            { AttributeName: TABLE_KEY.sortKey.name, AttributeType: TABLE_KEY.sortKey.type },
          ],
        }),
      );
      return name;
    },
    async stop() {
      client.destroy();
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
};
