// grpc-go-client is a second, independent proxyless xDS client (grpc-go) used by meshgate's
// end-to-end tests, so the xDS core is proven against more than one real implementation.
//
// It dials a target such as xds:///echo with the bootstrap from GRPC_XDS_BOOTSTRAP or
// GRPC_XDS_BOOTSTRAP_CONFIG, invokes one unary method with an empty request using a raw-bytes
// codec (no generated code), and prints one JSON line per call:
//
//	{"ok":true,"fields":{"2":"echo-v1","3":50051}} (reply fields by number) or {"ok":false,"error":"..."}
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/protobuf/encoding/protowire"

	_ "google.golang.org/grpc/xds" // registers the xds:/// resolver and balancers
)

// rawCodec passes bytes through, so any method can be called without generated stubs.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "meshgate-raw" }

// fields decodes the top-level scalar fields of a protobuf message (strings and varints), keyed
// by field number, so a test can read who answered without generated code.
func fields(b []byte) map[string]any {
	out := map[string]any{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return out
		}
		b = b[n:]
		key := fmt.Sprint(num)
		switch typ {
		case protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return out
			}
			out[key] = string(v)
			b = b[m:]
		case protowire.VarintType:
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return out
			}
			out[key] = v
			b = b[m:]
		default:
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return out
			}
			b = b[m:]
		}
	}
	return out
}

func main() {
	target := flag.String("target", "xds:///echo", "target to dial")
	method := flag.String("method", "/meshgate.examples.echo.Echo/Echo", "full method name")
	calls := flag.Int("calls", 100, "number of calls")
	interval := flag.Duration("interval", 0, "pause between calls")
	timeout := flag.Duration("timeout", 10*time.Second, "per-call deadline (the first call waits for xDS)")
	flag.Parse()
	encoding.RegisterCodec(rawCodec{})

	conn, err := grpc.NewClient(*target, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
	if err != nil {
		fmt.Fprintf(os.Stderr, "dial %s: %v\n", *target, err)
		os.Exit(2)
	}
	defer conn.Close()
	enc := json.NewEncoder(os.Stdout)
	for i := 0; i < *calls; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		req := []byte{}
		var resp []byte
		err := conn.Invoke(ctx, *method, &req, &resp, grpc.WaitForReady(true))
		cancel()
		if err != nil {
			enc.Encode(map[string]any{"ok": false, "error": err.Error()})
		} else {
			enc.Encode(map[string]any{"ok": true, "fields": fields(resp)})
		}
		if *interval > 0 {
			time.Sleep(*interval)
		}
	}
}
