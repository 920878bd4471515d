export type * from './types.ts';
export { emptyModel } from './types.ts';
export type { ConsulFacts, Source, SourceSink, SourceStatus, WatchState, WatchSummary } from './source.ts';
export { summarizeWatches } from './source.ts';
export { mergeModels } from './merge.ts';
export type { MergeConflict } from './merge.ts';
export { regexProblem, validateModel } from './validate.ts';
export type { ModelProblem } from './validate.ts';
