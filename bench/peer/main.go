// The go-control-plane peer for meshgate's benchmarks.
//
// It serves the same resources meshgate serves in the benchmarks (N EDS clusters over ADS, N
// ClusterLoadAssignments with 10 endpoints each, one HTTP listener with RDS and one
// RouteConfiguration with a virtual host per service) using go-control-plane in what we take to
// be its best setup for this workload: a SnapshotCache in ADS mode for CDS/LDS/RDS whose node
// hash maps every node to one key (so one snapshot serves every proxy), and a LinearCache for
// EDS behind a MuxCache (an endpoint change wakes only that assignment's watchers), with
// ordered SotW ADS.
//
// Modes:
//
//	peer serve          print "READY {json}" with the xDS and control ports, then serve
//	peer s1 N           build N services once (timed), print one JSON line with time and peak RSS
//
// Control API (HTTP, 127.0.0.1 only; the benchmark driver is its only client):
//
//	POST /setup?n=N            build N services and publish them
//	POST /change?svc=I&port=P  set endpoint 0 of service I to port P (the driver's change marker)
//	POST /gc                   runtime.GC + FreeOSMemory, then the same body as /stats
//	GET  /stats                {"rssKB","hwmKB","cpuMs","heapKB"}
//	POST /quit                 exit
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	routerv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discoverygrpc "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/envoyproxy/go-control-plane/pkg/server/sotw/v3"
	server "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const (
	endpointsPerService = 10
	groupKey            = "all"
	listenerName        = "bench-http"
	routeName           = "bench-http"
)

// oneGroup maps every node to one key: the peer's best setup, since one snapshot then serves all.
type oneGroup struct{}

func (oneGroup) ID(*corev3.Node) string { return groupKey }

type quiet struct{}

func (quiet) Debugf(string, ...interface{}) {}
func (quiet) Infof(string, ...interface{})  {}
func (quiet) Warnf(string, ...interface{})  {}
func (quiet) Errorf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "peer: "+format+"\n", args...)
}

func serviceName(i int) string { return fmt.Sprintf("svc-%05d", i) }

func endpointAddress(i, j int) string {
	return fmt.Sprintf("10.%d.%d.%d", (i>>8)&255, i&255, j+1)
}

func makeCluster(name string) *clusterv3.Cluster {
	return &clusterv3.Cluster{
		Name:                 name,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig: &clusterv3.Cluster_EdsClusterConfig{
			EdsConfig: &corev3.ConfigSource{
				ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
				ResourceApiVersion:    corev3.ApiVersion_V3,
			},
			ServiceName: name,
		},
		ConnectTimeout: durationpb.New(5 * time.Second),
		LbPolicy:       clusterv3.Cluster_ROUND_ROBIN,
	}
}

func makeAssignment(i int, ports []uint32) *endpointv3.ClusterLoadAssignment {
	lbs := make([]*endpointv3.LbEndpoint, len(ports))
	for j, p := range ports {
		lbs[j] = &endpointv3.LbEndpoint{
			HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
				Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
					Address:       endpointAddress(i, j),
					PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: p},
				}}},
			}},
			HealthStatus:        corev3.HealthStatus_HEALTHY,
			LoadBalancingWeight: wrapperspb.UInt32(1),
		}
	}
	return &endpointv3.ClusterLoadAssignment{
		ClusterName: serviceName(i),
		Endpoints: []*endpointv3.LocalityLbEndpoints{{
			Locality:            &corev3.Locality{},
			LbEndpoints:         lbs,
			LoadBalancingWeight: wrapperspb.UInt32(uint32(len(lbs))),
		}},
	}
}

func makeListener() *listenerv3.Listener {
	router, _ := anypb.New(&routerv3.Router{})
	hcm := &hcmv3.HttpConnectionManager{
		StatPrefix: listenerName,
		CodecType:  hcmv3.HttpConnectionManager_AUTO,
		RouteSpecifier: &hcmv3.HttpConnectionManager_Rds{Rds: &hcmv3.Rds{
			ConfigSource: &corev3.ConfigSource{
				ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
				ResourceApiVersion:    corev3.ApiVersion_V3,
			},
			RouteConfigName: routeName,
		}},
		HttpFilters: []*hcmv3.HttpFilter{{
			Name:       "envoy.filters.http.router",
			ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: router},
		}},
	}
	hcmAny, _ := anypb.New(hcm)
	return &listenerv3.Listener{
		Name: listenerName,
		Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: "0.0.0.0", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 8080},
		}}},
		FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
			Name:       "envoy.filters.network.http_connection_manager",
			ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: hcmAny},
		}}}},
	}
}

func makeRoutes(n int) *routev3.RouteConfiguration {
	vhosts := make([]*routev3.VirtualHost, n)
	for i := range n {
		name := serviceName(i)
		host := name + ".bench"
		vhosts[i] = &routev3.VirtualHost{
			Name:    host,
			Domains: []string{host, host + ":*"},
			Routes: []*routev3.Route{{
				Name:   name,
				Match:  &routev3.RouteMatch{PathSpecifier: &routev3.RouteMatch_Prefix{Prefix: "/"}},
				Action: &routev3.Route_Route{Route: &routev3.RouteAction{ClusterSpecifier: &routev3.RouteAction_Cluster{Cluster: name}}},
			}},
		}
	}
	return &routev3.RouteConfiguration{Name: routeName, VirtualHosts: vhosts}
}

type peer struct {
	mu        sync.Mutex
	snapshots cache.SnapshotCache
	eds       *cache.LinearCache
	ports     [][]uint32
	version   int
}

func newPeer() *peer {
	return &peer{
		snapshots: cache.NewSnapshotCache(true, oneGroup{}, quiet{}),
		// A random prefix so versions never repeat across restarts.
		eds: cache.NewLinearCache(resource.EndpointType, cache.WithLogger(quiet{}),
			cache.WithVersionPrefix(strconv.FormatInt(time.Now().UnixNano(), 36)+"-")),
	}
}

func (p *peer) mux() cache.Cache {
	return &cache.MuxCache{
		Classify: func(r *cache.Request) string {
			if r.GetTypeUrl() == resource.EndpointType {
				return "eds"
			}
			return "snap"
		},
		ClassifyDelta: func(r *cache.DeltaRequest) string {
			if r.GetTypeUrl() == resource.EndpointType {
				return "eds"
			}
			return "snap"
		},
		Caches: map[string]cache.Cache{"eds": p.eds, "snap": p.snapshots},
	}
}

// setup builds n services and publishes them: the work S1 times for the peer.
func (p *peer) setup(n int, encode bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	clusters := make([]types.Resource, n)
	assignments := make(map[string]types.Resource, n)
	p.ports = make([][]uint32, n)
	for i := range n {
		name := serviceName(i)
		clusters[i] = makeCluster(name)
		ports := make([]uint32, endpointsPerService)
		for j := range ports {
			ports[j] = 8080
		}
		p.ports[i] = ports
		assignments[name] = makeAssignment(i, ports)
	}
	p.version++
	snap, err := cache.NewSnapshot(fmt.Sprintf("%d-%d", time.Now().UnixNano(), p.version), map[resource.Type][]types.Resource{
		resource.ClusterType:  clusters,
		resource.ListenerType: {makeListener()},
		resource.RouteType:    {makeRoutes(n)},
	})
	if err != nil {
		return err
	}
	if err := p.snapshots.SetSnapshot(context.Background(), groupKey, snap); err != nil {
		return err
	}
	p.eds.SetResources(assignments)
	if encode {
		// meshgate's S1 figure includes encoding every resource once; go-control-plane encodes
		// lazily per response, so S1 adds one deterministic marshal of each resource to match.
		opts := proto.MarshalOptions{Deterministic: true}
		for _, c := range clusters {
			if _, err := opts.Marshal(c); err != nil {
				return err
			}
		}
		for _, a := range assignments {
			if _, err := opts.Marshal(a); err != nil {
				return err
			}
		}
		if _, err := opts.Marshal(makeRoutes(n)); err != nil {
			return err
		}
	}
	return nil
}

func (p *peer) change(i int, port uint32) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if i < 0 || i >= len(p.ports) {
		return fmt.Errorf("svc %d out of range 0..%d", i, len(p.ports)-1)
	}
	p.ports[i][0] = port
	return p.eds.UpdateResource(serviceName(i), makeAssignment(i, p.ports[i]))
}

func procStatusKB(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field+":") {
			f := strings.Fields(line[len(field)+1:])
			if len(f) > 0 {
				v, _ := strconv.ParseInt(f[0], 10, 64)
				return v
			}
		}
	}
	return -1
}

func cpuMs() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec)*1000 + float64(t.Usec)/1000 }
	return tv(ru.Utime) + tv(ru.Stime)
}

func stats() map[string]any {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return map[string]any{
		"rssKB":  procStatusKB("VmRSS"),
		"hwmKB":  procStatusKB("VmHWM"),
		"cpuMs":  cpuMs(),
		"heapKB": ms.HeapInuse / 1024,
	}
}

func reply(w http.ResponseWriter, v any, err error) {
	w.Header().Set("content-type", "application/json")
	if err != nil {
		w.WriteHeader(400)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}

func serve() error {
	p := newPeer()
	ctx := context.Background()
	srv := server.NewServer(ctx, p.mux(), nil, sotw.WithOrderedADS())
	gs := grpc.NewServer(
		grpc.MaxConcurrentStreams(1_000_000),
		grpc.MaxRecvMsgSize(64<<20),
		grpc.MaxSendMsgSize(256<<20),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}),
	)
	discoverygrpc.RegisterAggregatedDiscoveryServiceServer(gs, srv)
	xl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	cl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = gs.Serve(xl) }()

	mux := http.NewServeMux()
	mux.HandleFunc("/setup", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n < 1 {
			reply(w, nil, fmt.Errorf("setup needs n=<positive integer>"))
			return
		}
		start := time.Now()
		err = p.setup(n, false)
		reply(w, map[string]any{"ms": float64(time.Since(start).Microseconds()) / 1000}, err)
	})
	mux.HandleFunc("/change", func(w http.ResponseWriter, r *http.Request) {
		i, err1 := strconv.Atoi(r.URL.Query().Get("svc"))
		port, err2 := strconv.ParseUint(r.URL.Query().Get("port"), 10, 16)
		if err1 != nil || err2 != nil {
			reply(w, nil, fmt.Errorf("change needs svc=<index>&port=<1..65535>"))
			return
		}
		reply(w, map[string]any{}, p.change(i, uint32(port)))
	})
	mux.HandleFunc("/gc", func(w http.ResponseWriter, r *http.Request) {
		runtime.GC()
		debug.FreeOSMemory()
		reply(w, stats(), nil)
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) { reply(w, stats(), nil) })
	mux.HandleFunc("/quit", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]any{}, nil)
		go func() { time.Sleep(20 * time.Millisecond); os.Exit(0) }()
	})
	ready, _ := json.Marshal(map[string]int{
		"xdsPort": xl.Addr().(*net.TCPAddr).Port,
		"ctlPort": cl.Addr().(*net.TCPAddr).Port,
		"pid":     os.Getpid(),
	})
	fmt.Printf("READY %s\n", ready)
	// Exit when the driver goes away (its end of our stdin closes), so no peer outlives a run.
	go func() {
		buf := make([]byte, 64)
		for {
			if _, err := os.Stdin.Read(buf); err != nil {
				os.Exit(0)
			}
		}
	}()
	return http.Serve(cl, mux)
}

func s1(n int) error {
	p := newPeer()
	cpu0 := cpuMs()
	start := time.Now()
	if err := p.setup(n, true); err != nil {
		return err
	}
	cold := float64(time.Since(start).Microseconds()) / 1000
	cpu := cpuMs() - cpu0
	hwm := procStatusKB("VmHWM")
	warm := cold
	for range 2 {
		q := newPeer()
		start = time.Now()
		if err := q.setup(n, true); err != nil {
			return err
		}
		warm = min(warm, float64(time.Since(start).Microseconds())/1000)
	}
	out, _ := json.Marshal(map[string]any{"n": n, "ms": cold, "cpuMs": cpu, "warmMs": warm, "hwmKB": hwm})
	fmt.Println(string(out))
	return nil
}

func main() {
	var err error
	switch {
	case len(os.Args) == 2 && os.Args[1] == "serve":
		err = serve()
	case len(os.Args) == 3 && os.Args[1] == "s1":
		n, convErr := strconv.Atoi(os.Args[2])
		if convErr != nil || n < 1 {
			err = fmt.Errorf("usage: peer s1 <N services>, got %q", os.Args[2])
		} else {
			err = s1(n)
		}
	default:
		err = fmt.Errorf("usage: peer serve | peer s1 <N>")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "peer:", err)
		os.Exit(1)
	}
}
