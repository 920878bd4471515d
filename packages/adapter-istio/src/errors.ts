/** Stable codes for programs and tests; messages say what went wrong and what to do, and never carry a token. */
export type IstioErrorCode =
  | 'CA_UNREACHABLE'
  | 'CA_SERVER_UNTRUSTED'
  | 'CA_AUTH_REFUSED'
  | 'CA_CALL_FAILED'
  | 'CHAIN_INVALID'
  | 'ROOT_INVALID'
  | 'TOKEN_UNAVAILABLE'
  | 'USAGE';

export class IstioError extends Error {
  readonly code: IstioErrorCode;
  constructor(code: IstioErrorCode, message: string) {
    super(message);
    this.name = 'IstioError';
    this.code = code;
  }
}

/** Removes every occurrence of each secret from a text that came from elsewhere (gRPC status, HTTP body). */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 8) out = out.split(s).join('<redacted>');
  // A JWT-shaped string that slipped through (e.g. echoed in part) is removed too.
  return out.replace(/eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g, '<redacted>');
}
