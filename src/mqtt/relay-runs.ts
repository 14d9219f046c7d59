/**
 * Packets relayed towards brokers and towards clients, coalesced into runs (run-writer.ts).
 * Shared by every connection: each handler flushes before it returns, so a run never outlives
 * the chunk that filled it.
 */
import { RunWriter } from './run-writer.js';

export const upRun = new RunWriter();
export const downRun = new RunWriter();
