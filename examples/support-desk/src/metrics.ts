/**
 * /metrics: the process's default metrics, the desk's live counts and the refund queue, plus
 * every component registry that has one (the hub's), in Prometheus text format.
 */
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export interface DemoGaugeSources {
  desk: () => { conversations: number; waiting: number; offers: number; agentsOnline: number; avgHandleMs: number };
  refundQueue: () => { ready?: number; leased?: number; delayed?: number; dead?: number } & Record<string, unknown>;
}

export function createRegistry(parts: Registry[], sources: DemoGaugeSources): Registry {
  const own = new Registry();
  const registers = [own];
  collectDefaultMetrics({ register: own, prefix: 'kefu_demo_' });
  // Read when scraped (collect), so nothing runs between scrapes.
  const desk = (name: string, help: string, key: keyof ReturnType<DemoGaugeSources['desk']>): void => {
    new Gauge({ name: `kefu_demo_desk_${name}`, help, registers, collect() { this.set(sources.desk()[key]); } });
  };
  desk('conversations', 'Open conversations the desk holds', 'conversations');
  desk('waiting', 'Conversations waiting for an agent', 'waiting');
  desk('offers', 'Outstanding offers to agents', 'offers');
  desk('agents_online', 'Agents online', 'agentsOnline');
  desk('avg_handle_ms', 'Average handling time used for wait estimates (ms)', 'avgHandleMs');
  new Gauge({
    name: 'kefu_demo_refund_queue_items', help: 'Refund jobs in the durable queue, by state', labelNames: ['state'], registers,
    collect() {
      const c = sources.refundQueue();
      for (const [state, n] of Object.entries(c)) if (typeof n === 'number') this.set({ state }, n);
    },
  });
  return Registry.merge([own, ...parts]);
}
