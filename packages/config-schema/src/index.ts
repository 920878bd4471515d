export {
  parseDuration,
  formatDuration,
  checkDuration,
  durationRange,
  DURATION_EXAMPLES,
  DURATION_PATTERN,
  DURATION_UNITS,
} from './duration.ts';
export type { DurationBounds } from './duration.ts';
export { ConfigError, InvalidConfigError, formatErrors, sortErrors } from './errors.ts';
export type { ConfigErrorCode, Loc } from './errors.ts';
export { composeSchema, expected } from './spec.ts';
export type { ConfigSection, Field, ObjectSpec, Spec, StringSpec } from './spec.ts';
export { Reader, show } from './reader.ts';
export { checkConfigText, checkValue, readConfigText, readText } from './check.ts';
export type { CheckedText } from './check.ts';
export { closest } from './suggest.ts';
export { fillDoc, typeText, durationText } from './docs.ts';
export { toJsonSchema } from './json-schema.ts';
