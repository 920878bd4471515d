import type { Resource } from '@meshgate/envoy-api';

export { TYPE } from '@meshgate/envoy-api';

/** typeUrl -> (resource name -> resource in protobufjs fromObject form, snake_case field names). */
export type ResourceSet = Map<string, Map<string, Resource>>;

/** `envoy`: socket listeners + SDS. `grpc`: API listeners named by dial target + certificate-provider TLS. */
export type Profile = 'envoy' | 'grpc';

export const PROFILES: readonly Profile[] = ['envoy', 'grpc'];
