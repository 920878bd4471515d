// The Echo service definition for grpc-js, built from echo.proto with protobufjs (already a dependency of this
// package) rather than @grpc/proto-loader, which xds-core does not declare.
import { fileURLToPath } from 'node:url';
import type * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

export interface SayRequest {
  text: string;
}
export interface SayReply {
  text: string;
  server: string;
}

export function echoService(): grpc.ServiceDefinition {
  const root = protobuf.loadSync(fileURLToPath(new URL('./echo.proto', import.meta.url)));
  const Req = root.lookupType('meshgate.test.SayRequest');
  const Rep = root.lookupType('meshgate.test.SayReply');
  const codec = (t: protobuf.Type) => ({
    ser: (o: object) => Buffer.from(t.encode(t.fromObject(o)).finish()),
    de: (b: Buffer) => t.toObject(t.decode(b), { defaults: true }),
  });
  const req = codec(Req);
  const rep = codec(Rep);
  return {
    Say: {
      path: '/meshgate.test.Echo/Say',
      requestStream: false,
      responseStream: false,
      requestSerialize: req.ser,
      requestDeserialize: req.de,
      responseSerialize: rep.ser,
      responseDeserialize: rep.de,
      originalName: 'say',
    },
  } as grpc.ServiceDefinition;
}
