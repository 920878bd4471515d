export type * from './types.ts';
export { emptyModel } from './types.ts';
export type { Source, SourceSink, SourceStatus } from './source.ts';
export { mergeModels } from './merge.ts';
export type { MergeConflict } from './merge.ts';
export { validateModel } from './validate.ts';
export type { ModelProblem } from './validate.ts';
export { allowedEntryProblem, parseAllowedEntry } from './allowed-nodes.ts';
export type { AllowedEntry } from './allowed-nodes.ts';
