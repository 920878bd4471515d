// The two helper types the generated code takes from @grpc/proto-loader, declared here (same shape) so that
// consumers of these types need no @grpc/proto-loader: it is only the generator.

/** A google.protobuf.Any written as the message itself plus its type URL (what protobufjs fromObject accepts). */
export interface AnyExtension {
  '@type': string;
}

/** A 64-bit integer as the `long` package represents it; meshgate writes 64-bit fields as numbers or strings. */
export interface Long {
  low: number;
  high: number;
  unsigned: boolean;
}
