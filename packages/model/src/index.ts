export type * from './types.ts';
export { emptyModel } from './types.ts';
export type { Source, SourceSink, SourceStatus } from './source.ts';
export { mergeModels } from './merge.ts';
export type { MergeConflict } from './merge.ts';
export { regexProblem, validateModel } from './validate.ts';
export type { ModelProblem } from './validate.ts';
