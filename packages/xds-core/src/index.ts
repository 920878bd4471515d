// @meshgate/xds-core: proto registry and codec, the resource cache, and the ADS / per-type xDS server.
export {
  TYPE,
  PUSH_ORDER,
  REMOVAL_ORDER,
  type ResourceSet,
  type CachedResource,
  type PublishResult,
  type TypeChange,
  type Logger,
  type TypeUrl,
} from './types.ts';
export { envoyRoot, lookupMessage } from './protos.ts';
export { encodeResource, decodeAny, ResourceEncodeError } from './codec.ts';
export { XdsCache, type CacheChangeEvent, type CacheStats } from './cache.ts';
export {
  XdsServer,
  defaultGroupFor,
  MAX_REQUEST_BYTES,
  MAX_CONNECTIONS,
  MAX_STREAMS_PER_CONNECTION,
  type XdsServerOptions,
} from './server.ts';
export { STALLED_STREAM_MS } from './stream-base.ts';
export { DEFAULT_RECEIVE_WINDOWS, type ReceiveWindows } from './flow-control.ts';
export { Debouncer, type DebouncerOptions } from './debouncer.ts';
export { parseSubjectAltName, type PeerIdentity } from './peer.ts';
export {
  secretHoldsKey,
  defaultAuthorizeSecret,
  UNAUTHENTICATED_REFUSAL,
  type SecretDecision,
  type SecretInfo,
} from './secret-access.ts';
export { contentHash, setVersion } from './wire.ts';
export type {
  XdsNode,
  NodeStatus,
  TypeStatus,
  NackRecord,
  DepartedNode,
  DepartedNack,
  SecretRefusal,
  XdsServerEvents,
  ConnectEvent,
  DisconnectEvent,
  PushEvent,
  AckEvent,
  NackEvent,
  RefusedConnectionEvent,
} from './status.ts';
