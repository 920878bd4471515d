export { loadConfigFile, parseConfig } from './config.ts';
export type { ExternalReference, LoadResult, ParseOptions } from './config.ts';
export { ConfigError, formatErrors } from './errors.ts';
export type { ConfigErrorCode } from './errors.ts';
export { FileSource } from './file-source.ts';
export type { FileSourceOptions } from './file-source.ts';
export { CONFIG_SCHEMA } from './config-schema.ts';
export { parseDuration } from './schema.ts';
