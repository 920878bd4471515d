export { CertError, type CertErrorCode } from './errors.ts';
export { type KeyType, KEY_TYPES, assertKeyType, describeKey, keyTypeOf } from './keys.ts';
export { pemBlocks, derToPem, parseCertsPem, certsToPem, type PemBlock } from './pem.ts';
export {
  type SpiffeId,
  type IstioIdentity,
  type ConsulIdentity,
  type LinkerdIdentity,
  parseSpiffeId,
  isSpiffeId,
  istioSpiffeId,
  parseIstioSpiffeId,
  consulSpiffeId,
  parseConsulSpiffeId,
  linkerdIdentity,
  parseLinkerdIdentity,
  dnsNameProblem,
  assertDnsName,
} from './spiffe.ts';
export { sansOf, allSans, isSelfSigned, labelOf, type Sans } from './certinfo.ts';
export { verifyChain, type VerifyResult, type VerifyReason } from './verify.ts';
export {
  CertificateAuthority,
  createRoot,
  resolveSan,
  CA_CERT_FILE,
  CA_KEY_FILE,
  type SanType,
  type SanInput,
  type SignedCert,
  type IssuedCert,
  type IssueOptions,
  type SignCsrOptions,
  type CreateRootOptions,
  type LoadCaInput,
} from './ca.ts';
export { createCsr, type CreatedCsr } from './csr.ts';
export { TrustBundleSet } from './bundle.ts';
export { parseDuration, formatDuration } from './duration.ts';
export {
  RotationManager,
  validateCertMaterial,
  type CertMaterial,
  type RotationOptions,
  type RotationStatus,
  type ExpiryGaugeSample,
  type TrustBundleInput,
} from './rotation.ts';
export { certsInitCa, certsIssue, certsInspect, DEFAULT_CA_DIR, type CertsIssueOptions } from './cli.ts';
export { sdsSecrets } from './sds.ts';
