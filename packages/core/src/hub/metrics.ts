/**
 * Hub metrics. The hot path only increments plain numbers; prom-client reads them when scraped
 * (each metric's `collect`). The append->ack latency goes into a prom-client histogram.
 */
import { Registry, Counter, Gauge, type Metric } from 'prom-client';

interface HistogramValue { metricName: string; labels: Record<string, string | number>; value: number }

const ACK_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/**
 * The append->ack histogram as a prom-client metric. prom-client's own Histogram costs about
 * 8 us per observe (label hashing) on the send path; this one adds to a typed array, and
 * prom-client reads it at scrape time through `get()`.
 */
class FastHistogram {
  readonly name: string;
  readonly help: string;
  readonly #counts = new Float64Array(ACK_BUCKETS.length + 1);
  #sum = 0;

  constructor(name: string, help: string) {
    this.name = name;
    this.help = help;
  }

  observe(v: number): void {
    let i = 0;
    while (i < ACK_BUCKETS.length && v > ACK_BUCKETS[i]!) i++;
    this.#counts[i]!++;
    this.#sum += v;
  }

  get(): { name: string; help: string; type: 'histogram'; values: HistogramValue[]; aggregator: 'sum' } {
    const values: HistogramValue[] = [];
    let acc = 0;
    for (let i = 0; i <= ACK_BUCKETS.length; i++) {
      acc += this.#counts[i]!;
      values.push({ metricName: `${this.name}_bucket`, labels: { le: i < ACK_BUCKETS.length ? ACK_BUCKETS[i]! : '+Inf' }, value: acc });
    }
    values.push({ metricName: `${this.name}_sum`, labels: {}, value: this.#sum });
    values.push({ metricName: `${this.name}_count`, labels: {}, value: acc });
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
  }
}

export interface HubMetricsSnapshot {
  connections: number;
  connectionsTotal: number;
  framesIn: number;
  messagesStored: number;
  duplicates: number;
  errorsSent: number;
  rateLimited: number;
  slowConsumers: number;
  backpressurePauses: number;
  heartbeatTimeouts: number;
  idleTimeouts: number;
  replayedMessages: number;
  healedMessages: number;
  healDroppedFrames: number;
}

export class HubMetrics {
  /** The prom-client registry holding the hub's metrics (merge it into yours, or scrape it). */
  readonly register: Registry;
  readonly counts: Omit<HubMetricsSnapshot, 'connections'> = {
    connectionsTotal: 0, framesIn: 0, messagesStored: 0, duplicates: 0, errorsSent: 0, rateLimited: 0,
    slowConsumers: 0, backpressurePauses: 0, heartbeatTimeouts: 0, idleTimeouts: 0, replayedMessages: 0,
    healedMessages: 0, healDroppedFrames: 0,
  };
  readonly #connections: () => number;
  readonly #ackLatency: FastHistogram;

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
    counter('backpressure_pauses_total', 'Sockets paused because maxInflight frames were being handled', 'backpressurePauses');
    counter('heartbeat_timeouts_total', 'Sockets closed for a missing pong (4000)', 'heartbeatTimeouts');
    counter('idle_timeouts_total', 'Sockets closed for idleness (4001)', 'idleTimeouts');
    counter('replayed_messages_total', 'Messages replayed by resume', 'replayedMessages');
    counter('healed_messages_total', 'Messages missed on the bus and delivered from the store', 'healedMessages');
    counter('heal_dropped_frames_total', 'Non-message frames dropped while a room was healing (hold full)', 'healDroppedFrames');
    this.#ackLatency = new FastHistogram(`${prefix}append_ack_seconds`, 'Time from a send frame to its ack (hook + durable append)');
    this.register.registerMetric(this.#ackLatency as unknown as Metric);
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
