//go:build !grpc_pre163

package main

import "google.golang.org/grpc"

// newClient is grpc.NewClient, the constructor since grpc-go 1.63.
func newClient(target string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	return grpc.NewClient(target, opts...)
}
