/**
 * Every failure this package reports is a LinkerdError with a stable `code` and a message naming the input and the
 * fix. Messages never carry the ServiceAccount token or key material: they are built from names, addresses and
 * certificate facts only, and text that came from a server is passed through `redact` first.
 */
export type LinkerdErrorCode =
  | 'CONFIG_INVALID'
  | 'TOKEN_MISSING'
  | 'TRUST_ANCHORS_INVALID'
  | 'CERTIFY_REFUSED'
  | 'CERTIFY_UNAVAILABLE'
  | 'CERTIFY_FAILED'
  | 'CERT_REJECTED';

export class LinkerdError extends Error {
  readonly code: LinkerdErrorCode;

  constructor(code: LinkerdErrorCode, message: string) {
    super(message);
    this.name = 'LinkerdError';
    this.code = code;
  }
}

// A JWT is three base64url parts; whatever a server echoes back, such a string never reaches a message.
const JWT = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;

/** `text` with every occurrence of `secret` (and anything shaped like a JWT) replaced by "<redacted>". */
export function redact(text: string, secret?: string): string {
  let out = text;
  if (secret && secret.length >= 8) out = out.split(secret).join('<redacted>');
  return out.replace(JWT, '<redacted>');
}
