import type { JsonService } from './json-service.js';

/**
 * A service's handle: the JsonService members forwarded to `service`, plus the service's own
 * members from `extra`. Descriptors are copied rather than spread so that getters in `extra`
 * (live counters) stay getters instead of being read once.
 */
export function extendService<S extends JsonService>(service: JsonService, extra: Omit<S, keyof JsonService>): S {
  const base: JsonService = {
    name: service.name,
    port: service.port,
    url: service.url,
    get stats() {
      return service.stats;
    },
    get behaviour() {
      return service.behaviour;
    },
    resetStats: () => service.resetStats(),
    configure: (b) => service.configure(b),
    close: () => service.close(),
  };
  return Object.defineProperties(base, Object.getOwnPropertyDescriptors(extra)) as S;
}
