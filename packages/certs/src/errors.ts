/**
 * Every failure this package reports is a CertError with a stable `code` (for programs and tests) and a message that
 * says what was wrong and how to fix it. Messages never include key material: callers pass only names, paths and
 * certificate facts.
 */
export type CertErrorCode =
  | 'CA_FILE_MISSING'
  | 'CA_FILE_UNREADABLE'
  | 'CA_CERT_INVALID'
  | 'CA_KEY_INVALID'
  | 'CA_KEY_MISMATCH'
  | 'CA_NOT_CA'
  | 'CA_EXPIRED'
  | 'CA_NOT_YET_VALID'
  | 'CA_CHAIN_INVALID'
  | 'CA_KEY_UNSUPPORTED'
  | 'PEM_INVALID'
  | 'SPIFFE_INVALID'
  | 'DNS_NAME_INVALID'
  | 'IDENTITY_INVALID'
  | 'SAN_REQUIRED'
  | 'KEY_TYPE_INVALID'
  | 'DURATION_INVALID'
  | 'CSR_INVALID'
  | 'CSR_SIGNATURE_INVALID'
  | 'CSR_SAN_COUNT'
  | 'CSR_SAN_NOT_ALLOWED'
  | 'CSR_SAN_INVALID'
  | 'CSR_KEY_UNSUPPORTED'
  | 'CERT_REJECTED'
  | 'OBTAIN_FAILED'
  | 'OBTAIN_TIMEOUT'
  | 'BUNDLE_INVALID'
  | 'IO_FAILED'
  | 'USAGE';

export class CertError extends Error {
  readonly code: CertErrorCode;
  /** The file the problem is about, when there is one. */
  readonly file: string | undefined;

  constructor(code: CertErrorCode, message: string, options?: { file?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CertError';
    this.code = code;
    this.file = options?.file;
  }
}

/** A short, key-free description of an unknown thrown value, for wrapping foreign errors. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
