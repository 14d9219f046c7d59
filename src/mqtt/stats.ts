/**
 * Counters of the MQTT edge. The hot path bumps plain numbers; the server's sweep flushes the
 * deltas into the Prometheus registry when one is given (prom-client label lookups per packet
 * would cost more than the relay itself). Labels are bounded: packet type, direction, zone,
 * reason code, result.
 */
import { connackLabel } from '../core/events.js';
import { PACKET_NAMES } from './packet-type.js';

/**
 * The part of the admin metrics (src/admin/metrics.ts) the sweep feeds with periodic counters;
 * structurally typed. Connects, refusals and moves are events (src/core/events.ts) instead.
 */
export interface MqttMetricsSink {
  readonly mqttPackets: { inc(labels: Record<'type' | 'direction', string>, value?: number): void };
  readonly mqttMovesStarted: { inc(labels: Record<'cause', string>, value?: number): void };
  readonly mqttSessions: { set(labels: Record<'zone', string>, value: number): void };
  readonly mqttDrains: { inc(labels: Record<'zone' | 'result' | 'reason', string>, value?: number): void };
  readonly mqttDrainedMessages: { inc(labels: Record<'zone', string>, value?: number): void };
  readonly mqttDrainSeconds: { observe(labels: Record<'result', string>, value: number): void };
  readonly connectionsActive: {
    inc(labels: Record<'protocol', string>, value?: number): void;
    dec(labels: Record<'protocol', string>, value?: number): void;
  };
  readonly connections: { inc(labels: Record<'protocol', string>, value?: number): void };
}

export type MoveResult = 'ok' | 'failed' | 'disconnected';

export class MqttStats {
  /** [type] packets from clients / to clients. */
  readonly packetsIn = new Float64Array(16);
  readonly packetsOut = new Float64Array(16);
  private readonly flushedIn = new Float64Array(16);
  private readonly flushedOut = new Float64Array(16);
  active = 0;
  accepted = 0;
  /** Refused CONNECTs by reason code. */
  readonly refused = new Map<number, number>();
  malformedFromClients = 0;
  malformedFromBrokers = 0;
  /** Moves by result. */
  movesOk = 0;
  movesFailed = 0;
  movesDisconnected = 0;
  movesStarted = 0;
  /** Failed moves by reason (migration.ts MoveFailure). */
  readonly moveFailures = new Map<string, number>();
  brokersLost = 0;
  /** Messages relayed from old sessions after a move. */
  drainedMessages = 0;
  /** Drains of old sessions that ended empty, and abandoned ones by reason. */
  drainsDone = 0;
  readonly drainsAbandoned = new Map<string, number>();
  /** Moves that switched alone because the rest of their batch was not ready in time. */
  batchHoldsExpired = 0;

  refuse(code: number): void {
    this.refused.set(code, (this.refused.get(code) ?? 0) + 1);
  }

  moveFailed(reason: string): void {
    this.moveFailures.set(reason, (this.moveFailures.get(reason) ?? 0) + 1);
  }

  drainAbandoned(reason: string): void {
    this.drainsAbandoned.set(reason, (this.drainsAbandoned.get(reason) ?? 0) + 1);
  }

  /** Push what changed since the last flush into the registry. */
  flush(sink: MqttMetricsSink): void {
    for (let t = 1; t < 16; t++) {
      const din = (this.packetsIn[t] as number) - (this.flushedIn[t] as number);
      if (din > 0) sink.mqttPackets.inc({ type: PACKET_NAMES[t] as string, direction: 'in' }, din);
      const dout = (this.packetsOut[t] as number) - (this.flushedOut[t] as number);
      if (dout > 0) sink.mqttPackets.inc({ type: PACKET_NAMES[t] as string, direction: 'out' }, dout);
    }
    this.flushedIn.set(this.packetsIn);
    this.flushedOut.set(this.packetsOut);
  }

  snapshot(): Record<string, unknown> {
    const byType = (a: Float64Array): Record<string, number> => {
      const o: Record<string, number> = {};
      for (let t = 1; t < 16; t++) if ((a[t] as number) > 0) o[PACKET_NAMES[t] as string] = a[t] as number;
      return o;
    };
    return {
      active: this.active,
      accepted: this.accepted,
      refused: Object.fromEntries([...this.refused].map(([k, v]) => [connackLabel(k), v])),
      malformedFromClients: this.malformedFromClients,
      malformedFromBrokers: this.malformedFromBrokers,
      movesOk: this.movesOk,
      movesFailed: this.movesFailed,
      movesDisconnected: this.movesDisconnected,
      movesStarted: this.movesStarted,
      moveFailures: Object.fromEntries(this.moveFailures),
      brokersLost: this.brokersLost,
      drainedMessages: this.drainedMessages,
      drainsDone: this.drainsDone,
      drainsAbandoned: Object.fromEntries(this.drainsAbandoned),
      batchHoldsExpired: this.batchHoldsExpired,
      packetsIn: byType(this.packetsIn),
      packetsOut: byType(this.packetsOut),
    };
  }
}

export { connackLabel } from '../core/events.js';
