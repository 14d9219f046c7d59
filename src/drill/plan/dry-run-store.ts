import type { ZoneMapDoc } from '../../zonemap/index.js';
import type {
  GatewayReport,
  HistoryEntry,
  HistoryWrite,
  RawStoredMap,
  ZoneMapStore,
} from '../../zonemap/stores/index.js';

/**
 * `drill run --dry-run`: reads go to the real store until the plan's first change, then to
 * the map the plan would have written, so each step's blast radius is measured against the
 * step before it. Nothing is ever written to the real store.
 */
export class DryRunStore implements ZoneMapStore {
  readonly description: string;
  private raw: RawStoredMap | null = null;
  private readonly inner: ZoneMapStore;

  constructor(inner: ZoneMapStore) {
    this.inner = inner;
    this.description = `${inner.description} (dry run)`;
  }

  readRaw(): Promise<RawStoredMap> {
    return this.raw === null ? this.inner.readRaw() : Promise.resolve(this.raw);
  }

  compareAndSet(doc: ZoneMapDoc, _expected: number | null, _meta: HistoryWrite): Promise<void> {
    this.raw = { version: String(doc.version), json: JSON.stringify(doc) };
    return Promise.resolve();
  }

  history(limit: number): Promise<HistoryEntry[]> {
    return this.inner.history(limit);
  }

  historyDoc(version: number): Promise<{ entry: HistoryEntry; doc: ZoneMapDoc }> {
    return this.inner.historyDoc(version);
  }

  gateways(): Promise<GatewayReport[]> {
    return this.inner.gateways();
  }

  forgetGateway(_id: string): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
