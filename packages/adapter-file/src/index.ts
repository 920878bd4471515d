export { loadConfigFile, parseConfig } from './config.ts';
export type { ExternalReference, LoadResult, ParseOptions } from './config.ts';
export { FileSource } from './file-source.ts';
export type { FileSourceOptions } from './file-source.ts';
export { ALLOWED_NODES, CONFIG_SCHEMA, FILE_SECTIONS, NAME } from './config-schema.ts';
// The located error and the duration grammar are meshgate's one kind, re-exported for this package's users.
export { ConfigError, formatErrors, parseDuration } from '@meshgate/config-schema';
export type { ConfigErrorCode } from '@meshgate/config-schema';
