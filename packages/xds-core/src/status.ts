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

export interface XdsServerEvents {
  connect: [ConnectEvent];
  disconnect: [DisconnectEvent];
  push: [PushEvent];
  ack: [AckEvent];
  nack: [NackEvent];
}
