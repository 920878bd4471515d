// envoy-validate checks xDS resources against the rules Envoy itself applies when it accepts config,
// as far as they can be checked without running Envoy: meshgate's tests use it as the oracle for the
// `envoy` profile, since no Envoy binary can be had where they run.
//
// Input (stdin, or the file named by the only argument): a JSON array of resources exactly as the wire
// carries them, one google.protobuf.Any each, given either by its two fields or as its encoded bytes:
//
//	[{"source": "examples/quickstart.yaml", "typeUrl": "type.googleapis.com/...", "value": "<base64>"},
//	 {"source": "...", "any": "<base64 of the encoded google.protobuf.Any>"}, ...]
//
// "responseTypeUrl" may be added: the type_url of the DiscoveryResponse that carried the resource,
// which Envoy requires to equal the resource's own.
//
// For each resource it reports, one line per problem ("SOURCE: TYPE "NAME": PATH: PROBLEM"):
//   - a type URL (of the resource, or of any Any nested in it, at any depth) whose message is not
//     registered here: the import list below decides what this validator knows, and an Any it cannot
//     open is a problem, never skipped;
//   - unknown fields (bytes the message's descriptor does not describe), which Envoy rejects;
//   - every protoc-gen-validate rule of the message (the generated ValidateAll()), and of every message
//     packed in an Any inside it, recursively (ValidateAll itself does not open Anys);
//   - fields and enum values marked deprecated, which Envoy warns about and later refuses by default.
//
// Exit status: 0 when there is no problem, 1 when there is at least one, 2 when the input is unreadable.
package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"unicode"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/anypb"

	// The resource types meshgate serves.
	_ "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	// Extension messages meshgate packs into Anys. When meshgate starts emitting another one, its
	// resources fail here with "not registered" until the package is added to this list.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
)

type input struct {
	Source          string `json:"source"`
	TypeURL         string `json:"typeUrl"`
	Value           string `json:"value"`
	Any             string `json:"any"`
	ResponseTypeURL string `json:"responseTypeUrl"`
}

type problem struct{ path, msg string }

type checker struct{ problems []problem }

func (c *checker) add(path, format string, args ...any) {
	c.problems = append(c.problems, problem{path, fmt.Sprintf(format, args...)})
}

var strict = proto.UnmarshalOptions{DiscardUnknown: false, Resolver: protoregistry.GlobalTypes}

// openAny decodes the message an Any carries, or reports why it cannot.
func (c *checker) openAny(typeURL string, value []byte, path string) protoreflect.Message {
	mt, err := protoregistry.GlobalTypes.FindMessageByURL(typeURL)
	if err != nil {
		c.add(path, "Any of type %q: the message is not registered in envoy-validate (add its Go package to the imports of integration-tests/tools/envoy-validate/main.go if Envoy knows it)", typeURL)
		return nil
	}
	m := mt.New()
	if err := strict.Unmarshal(value, m.Interface()); err != nil {
		c.add(path, "Any of type %q does not decode: %v", typeURL, err)
		return nil
	}
	return m
}

// checkPacked validates a message that arrived inside an Any: its own rules, then everything below it.
func (c *checker) checkPacked(m protoreflect.Message, path string) {
	if v, ok := m.Interface().(interface{ ValidateAll() error }); ok {
		if err := v.ValidateAll(); err != nil {
			c.flatten(err, path)
		}
	} else if strings.HasPrefix(string(m.Descriptor().FullName()), "envoy.") {
		c.add(path, "%s has no generated validation", m.Descriptor().FullName())
	}
	c.walk(m, path)
}

// walk visits every populated field of m: unknown bytes, deprecations, and every nested Any.
func (c *checker) walk(m protoreflect.Message, path string) {
	d := m.Descriptor()
	if unk := m.GetUnknown(); len(unk) > 0 {
		c.add(path, "unknown field(s) %s in %s (Envoy rejects unknown fields)", unknownNumbers(unk), d.FullName())
	}
	if d.FullName() == "google.protobuf.Any" {
		url := m.Get(d.Fields().ByNumber(1)).String()
		inner := c.openAny(url, m.Get(d.Fields().ByNumber(2)).Bytes(), path)
		if inner != nil {
			c.checkPacked(inner, fmt.Sprintf("%s<%s>", path, inner.Descriptor().Name()))
		}
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		p := join(path, string(fd.Name()))
		if opts, ok := fd.Options().(*descriptorpb.FieldOptions); ok && opts.GetDeprecated() {
			c.add(p, "field %s is deprecated", fd.FullName())
		}
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				c.value(fd, l.Get(i), fmt.Sprintf("%s[%d]", p, i))
			}
		case fd.IsMap():
			keys := []protoreflect.MapKey{}
			v.Map().Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool { keys = append(keys, k); return true })
			sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
			for _, k := range keys {
				c.value(fd.MapValue(), v.Map().Get(k), fmt.Sprintf("%s[%q]", p, k.String()))
			}
		default:
			c.value(fd, v, p)
		}
		return true
	})
}

func (c *checker) value(fd protoreflect.FieldDescriptor, v protoreflect.Value, path string) {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		c.walk(v.Message(), path)
	case protoreflect.EnumKind:
		ev := fd.Enum().Values().ByNumber(v.Enum())
		if ev == nil {
			return // protoc-gen-validate's defined_only rule reports this where Envoy cares
		}
		if opts, ok := ev.Options().(*descriptorpb.EnumValueOptions); ok && opts.GetDeprecated() {
			c.add(path, "enum value %s is deprecated", ev.FullName())
		}
	}
}

// The errors protoc-gen-validate generates: a field, a reason, and for embedded messages a cause
// (itself a multi-error of the embedded message).
type fieldError interface {
	Field() string
	Reason() string
	Cause() error
}

func (c *checker) flatten(err error, path string) {
	var multi interface{ AllErrors() []error }
	if errors.As(err, &multi) {
		for _, e := range multi.AllErrors() {
			c.flatten(e, path)
		}
		return
	}
	if fe, ok := err.(fieldError); ok {
		p := join(path, snake(fe.Field()))
		cause := fe.Cause()
		if cause != nil {
			var nested fieldError
			if errors.As(cause, &multi) || errors.As(cause, &nested) {
				c.flatten(cause, p)
				return
			}
			c.add(p, "%s: %v", fe.Reason(), cause)
			return
		}
		c.add(p, "%s", fe.Reason())
		return
	}
	c.add(path, "%v", err)
}

func join(path, field string) string {
	switch {
	case field == "":
		return path
	case path == "":
		return field
	}
	return path + "." + field
}

// snake turns protoc-gen-validate's Go field names (LoadAssignment, Endpoints[0]) into the .proto's
// names (load_assignment, endpoints[0]) so one path reads the same from start to end.
func snake(goName string) string {
	var b strings.Builder
	inKey := false
	for i, r := range goName {
		switch {
		case r == '[':
			inKey = true
		case r == ']':
			inKey = false
		case !inKey && unicode.IsUpper(r):
			if i > 0 && goName[i-1] != '.' && goName[i-1] != ']' {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func unknownNumbers(b []byte) string {
	var nums []string
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "(unparseable)"
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			nums = append(nums, fmt.Sprintf("#%d", num))
			break
		}
		b = b[m:]
		nums = append(nums, fmt.Sprintf("#%d", num))
	}
	return strings.Join(nums, ", ")
}

// resource returns the Any's two fields from either input form.
func (it input) resource(c *checker) (string, []byte, error) {
	if it.Any == "" {
		value, err := base64.StdEncoding.DecodeString(it.Value)
		if err != nil {
			return "", nil, fmt.Errorf("value is not base64: %w", err)
		}
		if it.TypeURL == "" {
			return "", nil, errors.New("needs typeUrl and value, or any")
		}
		return it.TypeURL, value, nil
	}
	raw, err := base64.StdEncoding.DecodeString(it.Any)
	if err != nil {
		return "", nil, fmt.Errorf("any is not base64: %w", err)
	}
	a := &anypb.Any{}
	if err := strict.Unmarshal(raw, a); err != nil {
		return "", nil, fmt.Errorf("any is not an encoded google.protobuf.Any: %w", err)
	}
	if unk := a.ProtoReflect().GetUnknown(); len(unk) > 0 {
		c.add("", "unknown field(s) %s in the google.protobuf.Any wrapper", unknownNumbers(unk))
	}
	return a.GetTypeUrl(), a.GetValue(), nil
}

func resourceName(m protoreflect.Message) string {
	for _, f := range []protoreflect.Name{"name", "cluster_name"} {
		if fd := m.Descriptor().Fields().ByName(f); fd != nil && fd.Kind() == protoreflect.StringKind {
			return m.Get(fd).String()
		}
	}
	return ""
}

func main() {
	var r io.Reader = os.Stdin
	if len(os.Args) == 2 && os.Args[1] != "-" {
		f, err := os.Open(os.Args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, "envoy-validate:", err)
			os.Exit(2)
		}
		defer f.Close()
		r = f
	} else if len(os.Args) > 2 {
		fmt.Fprintln(os.Stderr, "usage: envoy-validate [FILE|-]  (a JSON array of {source, typeUrl, value (base64)})")
		os.Exit(2)
	}
	var items []input
	if err := json.NewDecoder(r).Decode(&items); err != nil {
		fmt.Fprintln(os.Stderr, "envoy-validate: input is not a JSON array of {source, typeUrl, value}:", err)
		os.Exit(2)
	}
	total := 0
	for i, it := range items {
		c := &checker{}
		typeURL, value, err := it.resource(c)
		if err != nil {
			fmt.Fprintf(os.Stderr, "envoy-validate: item %d (%s): %v\n", i, it.Source, err)
			os.Exit(2)
		}
		it.TypeURL = typeURL
		short := it.TypeURL[strings.LastIndex(it.TypeURL, ".")+1:]
		name := ""
		if it.ResponseTypeURL != "" && it.ResponseTypeURL != it.TypeURL {
			c.add("", "carried in a response of type %q but is a %q (Envoy rejects the response)", it.ResponseTypeURL, it.TypeURL)
		}
		if m := c.openAny(typeURL, value, ""); m != nil {
			name = resourceName(m)
			c.checkPacked(m, "")
		}
		for _, p := range c.problems {
			path := p.path
			if path == "" {
				path = "(resource)"
			}
			fmt.Printf("%s: %s %q: %s: %s\n", it.Source, short, name, path, p.msg)
		}
		total += len(c.problems)
	}
	fmt.Fprintf(os.Stderr, "envoy-validate: %d resource(s), %d problem(s)\n", len(items), total)
	if total > 0 {
		os.Exit(1)
	}
}
