// The PCAP store contract on a real PostgreSQL 15 (packet bytes in the database, DESIGN §7).
import { afterAll, beforeAll } from 'vitest';
import { startPostgres } from '../../../test/support/postgres.js';
import type { TestPostgres } from '../../../test/support/postgres.js';
import { PostgresStorage } from '../storage/postgres/storage.js';
import { PostgresPcapStore } from './postgres-store.js';
import { runPcapStoreContract } from './store.case.test.js';

let server: TestPostgres;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => server?.stop());

runPcapStoreContract('postgres', async () => {
  const storage = await PostgresStorage.open(await server.createDatabase());
  const { agent } = await storage.upsertAgent({ org_id: 1, name: 'a', url: 'http://h', token_hash: 'h', enabled: true, tags: [] }, 1);
  return {
    store: new PostgresPcapStore(storage.pool),
    addSession: async (id) => {
      await storage.createSession({ id, org_id: 1, label: 'x', criteria: { from: '1' }, capture_rtp: false, capture_pcap: true, duration_seconds: 60, created_at: 1, expires_at: 60_001, agent_ids: [agent.id] });
    },
    purgeSession: async (id) => {
      await storage.endSession(id, 'stopped', 2);
      await storage.purgeSession(id);
    },
    reopen: () => new PostgresPcapStore(storage.pool),
    cleanup: () => storage.close(),
  };
});
