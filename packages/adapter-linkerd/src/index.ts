export { LinkerdError, type LinkerdErrorCode, redact } from './errors.ts';
export {
  type CertifyRequest,
  type CertifyResponse,
  encodeCertifyRequest,
  decodeCertifyRequest,
  encodeCertifyResponse,
  decodeCertifyResponse,
} from './identity-proto.ts';
export {
  TRUST_ROOTS_CONFIGMAP,
  TRUST_ROOTS_KEY,
  trustRootsSource,
  parseTrustAnchors,
  trustAnchorsFromConfigMap,
} from './trust-anchors.ts';
export {
  IDENTITY_TOKEN_AUDIENCE,
  type LinkerdIdentityConfig,
  type CheckedCertificate,
  type CertifyOptions,
  type LinkerdCertificate,
  LinkerdIdentityClient,
  gatewayIdentityName,
  identityServerName,
  checkIssuedCertificate,
} from './identity.ts';
export {
  type GetDestination,
  type TcpAddress,
  type WeightedAddr,
  type Update,
  encodeGetDestination,
  decodeUpdate,
} from './destination-proto.ts';
export { DestinationWatch, type DestinationState, type DestinationWatchOptions } from './destination.ts';
export {
  type LinkerdServiceConfig,
  type LinkerdServiceReport,
  type LinkerdTlsNames,
  endpointTls,
  linkerdService,
} from './services.ts';
export {
  LinkerdCertificateProvider,
  destinationServerName,
  destinationTls,
  exactLinkerdName,
} from './destination-tls.ts';
