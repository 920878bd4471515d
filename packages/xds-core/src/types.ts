// Shared xDS constants. The type URLs are @meshgate/envoy-api's table, re-exported for xds-core's own users.
import { TYPE, type TypeUrl } from '@meshgate/envoy-api';

export { TYPE, type TypeUrl };

/** typeUrl -> (resource name -> plain object in protobufjs fromObject form, snake_case field names) */
export type ResourceSet = Map<string, Map<string, object>>;

/** Make-before-break order for additions and updates (xDS "eventual consistency considerations"). */
export const PUSH_ORDER: readonly string[] = [TYPE.cluster, TYPE.endpoint, TYPE.listener, TYPE.route, TYPE.secret];

/**
 * Order for removals, sent after every addition of the batch: a listener goes before the route and cluster it
 * referenced, so nothing that is still in use is removed first.
 */
export const REMOVAL_ORDER: readonly string[] = [TYPE.listener, TYPE.route, TYPE.cluster, TYPE.endpoint, TYPE.secret];

/** Types whose SotW responses carry the complete set (a missing name means deleted). */
export const FULL_STATE_TYPES: ReadonlySet<string> = new Set([TYPE.listener, TYPE.cluster]);

export const SUPPORTED_TYPES: ReadonlySet<string> = new Set(Object.values(TYPE));

export const SHORT_NAME: Readonly<Record<string, string>> = {
  [TYPE.listener]: 'LDS',
  [TYPE.route]: 'RDS',
  [TYPE.cluster]: 'CDS',
  [TYPE.endpoint]: 'EDS',
  [TYPE.secret]: 'SDS',
};

/** One encoded resource, shared by every stream that is sent it. */
export interface CachedResource {
  readonly name: string;
  readonly typeUrl: string;
  /** Content hash of `bytes` (sha256, base64url, 16 chars): identical content gives identical versions everywhere. */
  readonly version: string;
  /** The resource encoded as a google.protobuf.Any message. */
  readonly bytes: Uint8Array;
  /** The object it was encoded from (do not mutate). */
  readonly object: object;
}

/** Per type, the names whose content changed (or appeared) and the names that disappeared. */
export interface TypeChange {
  typeUrl: string;
  changed: string[];
  removed: string[];
}

export interface PublishResult {
  /** Only types with at least one change, in push order (CDS, EDS, LDS, RDS, SDS). */
  changes: TypeChange[];
}

/** Minimal pino-compatible logger. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child?(bindings: object): Logger;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
