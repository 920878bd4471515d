// Istio without a sidecar: the gateway's workload identity straight from istiod's CA.
export {
  IstioCaClient,
  readIstioRoot,
  CREATE_CERTIFICATE,
  DEFAULT_CA_ADDRESS,
  DEFAULT_CA_SERVER_NAME,
  ROOT_CONFIGMAP,
  ROOT_CONFIGMAP_KEY,
  type IstioCaClientOptions,
  type IstioCertificate,
} from './ca-client.ts';
export { checkIstioChain, parseRoots, type CheckedChain, type ChainExpectations } from './chain.ts';
export { IstioError, redact, type IstioErrorCode } from './errors.ts';
export {
  fileTokenSource,
  tokenRequestSource,
  ISTIO_CA_AUDIENCE,
  type KubeRequester,
  type TokenSource,
  type TokenRequestOptions,
} from './token.ts';
export { encodeCertificateRequest, decodeCertificateResponse, type CertificateRequest } from './wire.ts';
export {
  CA_SECRET_SUFFIX,
  CREDENTIAL_KEYS,
  credentialBundleName,
  credentialIdentityName,
  resolveCredential,
  type IstioSecret,
  type ResolvedCredential,
} from './credentials.ts';
export {
  destinationRuleCredentials,
  destinationRuleTls,
  expandTrustDomains,
  istioAlpn,
  istioSni,
  istioUpstream,
  peerAuthenticationMode,
  spiffeId,
  ISTIO_PROFILE,
  TLS_MODE_LABEL,
  type IstioCondition,
  type IstioConditionReason,
  type IstioPod,
  type IstioPolicies,
  type IstioPolicyObject,
  type IstioServicePort,
  type IstioUpstream,
  type IstioUpstreamOptions,
  type MtlsMode,
} from './upstream.ts';
