import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';

export interface EchoReply {
  message: string;
  server: string;
  port: number;
}

export type EchoClient = grpc.Client & {
  Echo(
    req: { message: string },
    meta: grpc.Metadata,
    opts: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, reply?: EchoReply) => void,
  ): grpc.ClientUnaryCall;
};

export const ECHO_PROTO = fileURLToPath(new URL('./echo.proto', import.meta.url));

/** The Echo service definition and client constructor, loaded from echo.proto. */
export function loadEcho(): {
  service: grpc.ServiceDefinition;
  Client: new (target: string, creds: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => EchoClient;
} {
  const def = protoLoader.loadSync(ECHO_PROTO, { keepCase: true, longs: String, enums: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    meshgate: { examples: { echo: { Echo: grpc.ServiceClientConstructor } } };
  };
  const Echo = pkg.meshgate.examples.echo.Echo;
  return {
    service: Echo.service,
    Client: Echo as unknown as new (
      target: string,
      creds: grpc.ChannelCredentials,
      options?: grpc.ChannelOptions,
    ) => EchoClient,
  };
}
