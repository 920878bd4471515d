//go:build grpc_pre163

package main

import "google.golang.org/grpc"

// newClient is grpc.Dial for releases before 1.63, which lack grpc.NewClient. For an xds:///
// target the two behave alike: the scheme is explicit, and neither connects before the first call.
func newClient(target string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	return grpc.Dial(target, opts...)
}
