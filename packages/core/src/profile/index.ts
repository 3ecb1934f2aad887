export { ProfileAggregator } from './aggregator.js';
export type { GetOptions } from './aggregator.js';
export { HttpProfileSource } from './http-source.js';
export type { HttpProfileSourceOptions, HttpBatchOptions } from './http-source.js';
export { defaultUidPattern } from './options.js';
export type { ProfileAggregatorOptions, CacheOptions, BreakerOptions, RetryOptions } from './options.js';
export type { ProfileAggregatorEvents, FetchEvent } from './events.js';
export type {
  ProfileSource, FetchContext, BatchAnswer, BatchOptions, SourceStatus, SourceReport, AnyProfileSource,
  SourceValue, ProfileData, Profile, SourceCounters, BreakerState,
} from './types.js';
