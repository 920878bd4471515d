// @meshgate/xds-core/testing: helpers for tests, end-to-end suites and benchmarks.
export { AdsClient, type AdsClientOptions, type AdsResponse, type ReceivedResource } from './ads-client.ts';
export { Prng, byteMutator, fuzz, fuzzSettings, type FuzzCrash, type FuzzResult, type Mutator } from './fuzz.ts';
