#!/usr/bin/python3
"""A proxyless xDS test client on gRPC C-core, through the Python grpcio package (Debian's
python3-grpcio: C-core 1.51). It takes the same flags and prints the same JSON lines as the
grpc-go test client next to it, so a test reads both alike:

  {"target":"xds:///echo","ok":true,"fields":{"2":"echo-v1","3":50051}}   (reply fields by number)
  {"target":"xds:///echo","ok":false,"code":14,"error":"..."}

The bootstrap comes from GRPC_XDS_BOOTSTRAP or GRPC_XDS_BOOTSTRAP_CONFIG, read by C-core itself.
Calls are generic (raw bytes in and out), so no generated code is needed.
"""
import argparse
import json
import sys

try:
    import grpc
    import grpc.experimental
except ImportError:
    sys.stderr.write('c-core-client: the grpc module is missing; install it with: apt-get install python3-grpcio\n')
    sys.exit(3)


def varint(b, i):
    shift = value = 0
    while True:
        byte = b[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i
        shift += 7


def fields(b):
    """Top-level strings and varints of a protobuf message, keyed by field number."""
    out = {}
    i = 0
    try:
        while i < len(b):
            tag, i = varint(b, i)
            num, typ = tag >> 3, tag & 7
            if typ == 0:
                out[str(num)], i = varint(b, i)
            elif typ == 2:
                n, i = varint(b, i)
                out[str(num)] = b[i:i + n].decode('utf-8', 'replace')
                i += n
            elif typ == 1:
                i += 8
            elif typ == 5:
                i += 4
            else:
                break
    except IndexError:
        pass
    return out


def seconds(text):
    return float(text[:-1] if text.endswith('s') else text)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('-target', default='xds:///echo', help='target to dial; several separated by commas')
    p.add_argument('-method', default='/meshgate.examples.echo.Echo/Echo')
    p.add_argument('-calls', type=int, default=100, help='calls per target')
    p.add_argument('-timeout', type=seconds, default=10.0, help='per-call deadline, e.g. 10s')
    p.add_argument('-xds-creds', action='store_true', help='xDS channel credentials, insecure fallback')
    p.add_argument('-hold', action='store_true', help='after the calls, print {"done":true}, stay connected until stdin closes')
    p.add_argument('-version', action='store_true', help='print the grpcio version and exit')
    a = p.parse_args()
    if a.version:
        print(grpc.__version__)
        return
    channels = []
    for target in a.target.split(','):
        if a.xds_creds:
            creds = grpc.xds_channel_credentials(grpc.experimental.insecure_channel_credentials())
            ch = grpc.secure_channel(target, creds)
        else:
            ch = grpc.insecure_channel(target)
        channels.append(ch)
        call = ch.unary_unary(a.method)
        for _ in range(a.calls):
            try:
                reply = call(b'', timeout=a.timeout, wait_for_ready=True)
                line = {'target': target, 'ok': True, 'fields': fields(reply)}
            except grpc.RpcError as e:
                line = {'target': target, 'ok': False, 'code': e.code().value[0], 'error': '%s: %s' % (e.code().name, e.details())}
            sys.stdout.write(json.dumps(line) + '\n')
            sys.stdout.flush()
    if a.hold:
        sys.stdout.write('{"done": true}\n')
        sys.stdout.flush()
        sys.stdin.read()
    for ch in channels:
        ch.close()


if __name__ == '__main__':
    main()
