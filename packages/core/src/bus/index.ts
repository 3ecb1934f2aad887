export { Bus } from './bus.js';
export type { BusEvents, BusOptions } from './bus.js';
export { LocalBus, LocalBusNetwork } from './local-bus.js';
export type { LocalBusOptions } from './local-bus.js';
