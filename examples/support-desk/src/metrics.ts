/** /metrics: the process's default metrics plus every component's registry, in Prometheus text format. */
import { Registry, collectDefaultMetrics } from 'prom-client';

export function createRegistry(parts: Registry[]): Registry {
  const own = new Registry();
  collectDefaultMetrics({ register: own, prefix: 'kefu_demo_' });
  return Registry.merge([own, ...parts]);
}
