// Per-node status (for `meshgate status`, the admin API and metrics) and the server's event payloads.
import type { PeerIdentity } from './peer.ts';

/** The decoded envoy.config.core.v3.Node of a stream's first request (snake_case, as sent). */
export interface XdsNode {
  id: string;
  cluster?: string;
  user_agent_name?: string;
  user_agent_version?: string;
  metadata?: {
    fields?: Record<string, { string_value?: string; bool_value?: boolean; number_value?: number } | undefined>;
  };
  locality?: { region?: string; zone?: string; sub_zone?: string };
  client_features?: string[];
  [key: string]: unknown;
}

export interface NackRecord {
  /** The version_info (SotW) / system_version_info (delta) of the rejected response. */
  version: string;
  /** The nonce of the rejected response (the one the NACK's response_nonce names). */
  nonce: string;
  message: string;
  /** ISO time the NACK arrived. */
  at: string;
  /** Names in the rejected response (first 100). */
  names: string[];
}

export interface TypeStatus {
  typeUrl: string;
  /** CDS, EDS, LDS, RDS or SDS. */
  type: string;
  mode: 'sotw' | 'delta';
  wildcard: boolean;
  /** Names explicitly subscribed (wildcard not counted). */
  subscribed: number;
  /** Resources the client currently holds from us (sent, acknowledged or not). */
  resources: number;
  lastSentVersion?: string;
  lastSentAt?: string;
  lastAckedVersion?: string;
  lastAckedAt?: string;
  lastNack?: NackRecord;
  /** A response was sent and neither ACKed nor NACKed yet. */
  pendingAck: boolean;
}

export interface NodeStatus {
  id: string;
  cluster: string;
  /** Node profile (cache group) the node is served from. */
  group: string;
  userAgent: string;
  /** ISO time the node's first current stream connected. */
  connectedSince: string;
  /** Open streams of this node id (1 for ADS). */
  streams: number;
  peer?: PeerIdentity;
  types: TypeStatus[];
  /** Secrets the node asked for (by name or wildcard) and was refused, with the reason; absent when none. */
  refusedSecrets?: SecretRefusal[];
}

export interface SecretRefusal {
  name: string;
  /** Why the node may not have it, and what would change that (never anything of the Secret's content). */
  reason: string;
  /** ISO time of the first refusal for this reason. */
  since: string;
}

/** A NACK kept after its node left, with the type it was for. */
export interface DepartedNack extends NackRecord {
  typeUrl: string;
  /** CDS, EDS, LDS, RDS or SDS. */
  type: string;
  /** Set when a later response of this type was ACKed: the NACK was not the state the node left in. */
  ackedAfter?: string;
}

/**
 * A node whose last stream closed while one of its types stood NACKed. Kept for a few minutes
 * (XdsServerOptions.departedRetentionMs) so an operator can still see why a client went away.
 */
export interface DepartedNode {
  id: string;
  cluster: string;
  group: string;
  userAgent: string;
  connectedSince: string;
  /** ISO time the node's last stream closed. */
  disconnectedAt: string;
  peer?: PeerIdentity;
  /** The last NACK of each type that had one, in type order. */
  nacks: DepartedNack[];
}

interface EventBase {
  node: string;
  group: string;
  streamId: number;
}

export interface ConnectEvent extends EventBase {
  mode: 'sotw' | 'delta';
  /** gRPC method path of the stream. */
  method: string;
  userAgent: string;
}
export interface DisconnectEvent extends EventBase {
  durationMs: number;
}
export interface PushEvent extends EventBase {
  typeUrl: string;
  mode: 'sotw' | 'delta';
  version: string;
  /** Encoded size of the whole response message. */
  bytes: number;
  resources: number;
  removed: number;
}
export interface AckEvent extends EventBase {
  typeUrl: string;
  version: string;
  /** From writing the response to receiving its ACK. */
  latencyMs: number;
}
export interface NackEvent extends AckEvent {
  message: string;
  names: string[];
}

/** A client connection closed at accept because xds.maxConnections connections were open. */
export interface RefusedConnectionEvent {
  remoteAddress: string;
  connections: number;
  limit: number;
}

export interface XdsServerEvents {
  refused: [RefusedConnectionEvent];
  connect: [ConnectEvent];
  disconnect: [DisconnectEvent];
  push: [PushEvent];
  ack: [AckEvent];
  nack: [NackEvent];
}
