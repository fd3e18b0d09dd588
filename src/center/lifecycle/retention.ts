// Retention (DESIGN §7): a periodic job deletes the event history of sessions that ended more than
// `eventRetentionHours` ago, their stored frames and PCAP files after `pcapRetentionHours`, audit
// entries older than `auditRetentionDays` or beyond the newest `auditMaxEntries`, expired login
// sessions and single sign-on logins never completed. A session's history is deleted whole, never truncated; the session's
// metadata stays and shows `history_deleted_at`.
import type { PcapStore } from '../pcap/store.js';
import type { Storage } from '../storage/types.js';

export interface RetentionPolicy {
  eventRetentionHours: number;
  pcapRetentionHours: number;
  auditRetentionDays: number;
  auditMaxEntries: number;
}

export interface RetentionReport {
  history: string[];
  pcap: string[];
  webSessions: number;
  /** audit entries deleted */
  audit: number;
  oidcLogins: number;
}

const HOUR = 3_600_000;

export async function runRetention(storage: Storage, pcapStore: PcapStore, p: RetentionPolicy, now: number): Promise<RetentionReport> {
  const pcap = await storage.deleteFramesEndedBefore(now - p.pcapRetentionHours * HOUR, now);
  const history = await storage.deleteHistoryEndedBefore(now - p.eventRetentionHours * HOUR, now);
  for (const id of new Set([...pcap, ...history])) await pcapStore.remove(id);
  const webSessions = await storage.deleteExpiredWebSessions(now);
  const oidcLogins = await storage.deleteExpiredOidcLogins(now);
  const audit = await storage.pruneAudit(now - p.auditRetentionDays * 24 * HOUR, p.auditMaxEntries);
  return { history, pcap, webSessions, audit, oidcLogins };
}

export class RetentionJob {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly run: () => Promise<unknown>,
    private readonly intervalMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    void this.run().catch(this.onError);
    this.timer = setInterval(() => void this.run().catch(this.onError), this.intervalMs);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
