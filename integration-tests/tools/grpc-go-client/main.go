// grpc-go-client is a second, independent proxyless xDS client (grpc-go) used by meshgate's
// end-to-end tests, so the xDS core is proven against more than one real implementation.
//
// It dials each target (-target xds:///echo, or several separated by commas) with the bootstrap
// from GRPC_XDS_BOOTSTRAP or GRPC_XDS_BOOTSTRAP_CONFIG, invokes one unary method with an empty
// request using a raw-bytes codec (no generated code), and prints one JSON line per call:
//
//	{"target":"xds:///echo","ok":true,"fields":{"2":"echo-v1","3":50051}} (reply fields by number)
//	{"target":"xds:///echo","ok":false,"code":14,"error":"..."}
//
// -xds-creds uses xDS channel credentials (gRFC A29: the TLS settings come from CDS and the
// bootstrap's certificate providers). -hold prints {"done":true} after the calls and keeps the
// channels (and so the xDS stream) open until stdin closes, so a test can read the control
// plane's view of this client while it is still connected.
//
// The same source builds against older grpc-go releases (see build-grpc-go-client.sh): dial.go
// and dial_pre163.go pick the constructor the release has.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	xdscreds "google.golang.org/grpc/credentials/xds"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/status"
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
	target := flag.String("target", "xds:///echo", "target to dial; several separated by commas")
	method := flag.String("method", "/meshgate.examples.echo.Echo/Echo", "full method name")
	calls := flag.Int("calls", 100, "number of calls per target")
	interval := flag.Duration("interval", 0, "pause between calls")
	timeout := flag.Duration("timeout", 10*time.Second, "per-call deadline (the first call waits for xDS)")
	useXdsCreds := flag.Bool("xds-creds", false, "xDS channel credentials (TLS from CDS), insecure fallback")
	hold := flag.Bool("hold", false, "after the calls, print {\"done\":true} and stay connected until stdin closes")
	flag.Parse()
	encoding.RegisterCodec(rawCodec{})

	var creds credentials.TransportCredentials = insecure.NewCredentials()
	if *useXdsCreds {
		c, err := xdscreds.NewClientCredentials(xdscreds.ClientOptions{FallbackCreds: insecure.NewCredentials()})
		if err != nil {
			fmt.Fprintf(os.Stderr, "xds credentials: %v\n", err)
			os.Exit(2)
		}
		creds = c
	}
	enc := json.NewEncoder(os.Stdout)
	var conns []*grpc.ClientConn
	for _, t := range strings.Split(*target, ",") {
		conn, err := newClient(t, grpc.WithTransportCredentials(creds),
			grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
		if err != nil {
			fmt.Fprintf(os.Stderr, "dial %s: %v\n", t, err)
			os.Exit(2)
		}
		conns = append(conns, conn)
		for i := 0; i < *calls; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), *timeout)
			req := []byte{}
			var resp []byte
			err := conn.Invoke(ctx, *method, &req, &resp, grpc.WaitForReady(true))
			cancel()
			if err != nil {
				enc.Encode(map[string]any{"target": t, "ok": false, "code": int(status.Code(err)), "error": err.Error()})
			} else {
				enc.Encode(map[string]any{"target": t, "ok": true, "fields": fields(resp)})
			}
			if *interval > 0 {
				time.Sleep(*interval)
			}
		}
	}
	if *hold {
		enc.Encode(map[string]any{"done": true})
		io.Copy(io.Discard, os.Stdin)
	}
	for _, c := range conns {
		c.Close()
	}
}
