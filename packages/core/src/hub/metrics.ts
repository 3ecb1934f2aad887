/**
 * Hub metrics. The hot path only increments plain numbers; prom-client reads them when scraped
 * (each metric's `collect`). The append->ack latency goes into a prom-client histogram.
 */
import { Registry, Counter, Gauge, Histogram } from 'prom-client';

export interface HubMetricsSnapshot {
  connections: number;
  connectionsTotal: number;
  framesIn: number;
  messagesStored: number;
  duplicates: number;
  errorsSent: number;
  rateLimited: number;
  slowConsumers: number;
  heartbeatTimeouts: number;
  idleTimeouts: number;
  replayedMessages: number;
}

export class HubMetrics {
  /** The prom-client registry holding the hub's metrics (merge it into yours, or scrape it). */
  readonly register: Registry;
  readonly counts: Omit<HubMetricsSnapshot, 'connections'> = {
    connectionsTotal: 0, framesIn: 0, messagesStored: 0, duplicates: 0, errorsSent: 0, rateLimited: 0,
    slowConsumers: 0, heartbeatTimeouts: 0, idleTimeouts: 0, replayedMessages: 0,
  };
  readonly #connections: () => number;
  readonly #ackLatency: Histogram;

  constructor(connections: () => number, prefix = 'kefu_hub_') {
    this.#connections = connections;
    this.register = new Registry();
    const registers = [this.register];
    new Gauge({ name: `${prefix}connections`, help: 'Open WebSocket connections on this node', registers, collect() { this.set(connections()); } });
    const counter = (name: string, help: string, key: keyof HubMetrics['counts']): void => {
      const counts = this.counts;
      new Counter({ name: `${prefix}${name}`, help, registers, collect() { this.reset(); this.inc(counts[key]); } });
    };
    counter('connections_total', 'Connections accepted', 'connectionsTotal');
    counter('frames_in_total', 'Client frames received', 'framesIn');
    counter('messages_stored_total', 'Messages appended to the store', 'messagesStored');
    counter('duplicate_sends_total', 'Sends answered from the cid index (retries)', 'duplicates');
    counter('errors_sent_total', 'Error frames sent to clients', 'errorsSent');
    counter('rate_limited_total', 'Frames refused by the rate limit', 'rateLimited');
    counter('slow_consumer_closes_total', 'Sockets closed with 4002', 'slowConsumers');
    counter('heartbeat_timeouts_total', 'Sockets closed for a missing pong (4000)', 'heartbeatTimeouts');
    counter('idle_timeouts_total', 'Sockets closed for idleness (4001)', 'idleTimeouts');
    counter('replayed_messages_total', 'Messages replayed by resume', 'replayedMessages');
    this.#ackLatency = new Histogram({
      name: `${prefix}append_ack_seconds`, help: 'Time from a send frame to its ack (hook + durable append)', registers,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    });
  }

  /** @internal */
  observeAck(seconds: number): void {
    this.#ackLatency.observe(seconds);
  }

  /** The counters as plain numbers (for tests and logs). */
  snapshot(): HubMetricsSnapshot {
    return { connections: this.#connections(), ...this.counts };
  }

  /** Prometheus text exposition of the hub's metrics. */
  text(): Promise<string> {
    return this.register.metrics();
  }
}
