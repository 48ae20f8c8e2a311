package riskservice

import (
	"context"
	"crypto/subtle"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// healthPrefix marks the calls served without a token, so load balancers and probes need none.
const healthPrefix = "/grpc.health.v1.Health/"

// Auth requires "authorization: Bearer <token>" metadata on every call except health checks,
// the rule of the Python service (services/auth.py): the first authorization value must match
// exactly; anything else is UNAUTHENTICATED.
type Auth struct {
	expected []byte
}

// NewAuth returns the check for token (which must not be empty).
func NewAuth(token string) *Auth {
	return &Auth{expected: []byte("Bearer " + token)}
}

var errUnauthenticated = status.Error(codes.Unauthenticated, "missing or wrong bearer token (metadata 'authorization: Bearer <token>')")

func (a *Auth) check(ctx context.Context, method string) error {
	if strings.HasPrefix(method, healthPrefix) {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	if given := md.Get("authorization"); len(given) > 0 && subtle.ConstantTimeCompare([]byte(given[0]), a.expected) == 1 {
		return nil
	}
	return errUnauthenticated
}

// Unary is the check as a unary interceptor.
func (a *Auth) Unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := a.check(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// Stream is the check as a stream interceptor.
func (a *Auth) Stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if err := a.check(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return handler(srv, ss)
}

// Observer records each finished call's method, status code and duration.
type Observer func(fullMethod string, code codes.Code, elapsed time.Duration)

// ObserveUnary times unary calls into observe.
func ObserveUnary(observe Observer) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		started := time.Now()
		resp, err := handler(ctx, req)
		observe(info.FullMethod, codeOf(ctx, err), time.Since(started))
		return resp, err
	}
}

// ObserveStream times streaming calls into observe.
func ObserveStream(observe Observer) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		started := time.Now()
		err := handler(srv, ss)
		observe(info.FullMethod, codeOf(ss.Context(), err), time.Since(started))
		return err
	}
}

// codeOf is err's status code, except that a call cancelled once its deadline had passed counts
// as DEADLINE_EXCEEDED (the transport resets a stream at its deadline; the Python service counts
// a WatchRiskScores stream that ends so the same way).
func codeOf(ctx context.Context, err error) codes.Code {
	code := status.Code(err)
	if code == codes.Canceled {
		if deadline, ok := ctx.Deadline(); ok && !time.Now().Before(deadline) {
			return codes.DeadlineExceeded
		}
	}
	return code
}

func notParsed(err error) error {
	return status.Errorf(codes.InvalidArgument, "the request does not parse: %v", status.Convert(err).Message())
}

// ServiceDesc is the generated RiskService description with one change: a request that does
// not parse is INVALID_ARGUMENT (as the Python service answers it), not gRPC's INTERNAL, and it
// still passes the interceptors (a caller without a token is told so first, and the call is
// counted).
func ServiceDesc(desc grpc.ServiceDesc) *grpc.ServiceDesc {
	methods := make([]grpc.MethodDesc, len(desc.Methods))
	for i, m := range desc.Methods {
		handler, fullMethod := m.Handler, "/"+desc.ServiceName+"/"+m.MethodName
		m.Handler = func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			var decodeErr error
			resp, err := handler(srv, ctx, func(v any) error {
				if err := dec(v); err != nil {
					decodeErr = notParsed(err)
					return decodeErr
				}
				return nil
			}, interceptor)
			if decodeErr == nil || interceptor == nil {
				return resp, err
			}
			// the generated handler returned before its interceptors: run them on the refusal
			info := &grpc.UnaryServerInfo{Server: srv, FullMethod: fullMethod}
			return interceptor(ctx, nil, info, func(context.Context, any) (any, error) { return nil, decodeErr })
		}
		methods[i] = m
	}
	streams := make([]grpc.StreamDesc, len(desc.Streams))
	for i, sd := range desc.Streams {
		handler := sd.Handler
		sd.Handler = func(srv any, stream grpc.ServerStream) error {
			return handler(srv, parsingStream{stream})
		}
		streams[i] = sd
	}
	desc.Methods, desc.Streams = methods, streams
	return &desc
}

// parsingStream parses a streamed request itself, so one that does not parse is INVALID_ARGUMENT:
// grpc-go's own decoding sends INTERNAL to the caller the moment it fails, before any handler
// can answer. It needs the server to run with [Codec].
type parsingStream struct {
	grpc.ServerStream
}

func (p parsingStream) RecvMsg(m any) error {
	var raw rawRequest
	if err := p.ServerStream.RecvMsg(&raw); err != nil {
		return err
	}
	msg, ok := m.(proto.Message)
	if !ok {
		return status.Errorf(codes.Internal, "cannot parse a %T", m)
	}
	if err := proto.Unmarshal(raw.data, msg); err != nil {
		return notParsed(err)
	}
	return nil
}

// rawRequest receives a request's bytes unparsed (see [Codec]).
type rawRequest struct {
	data []byte
}

// Codec is gRPC's proto codec, except that a *rawRequest receives the bytes as they came.
type Codec struct {
	encoding.CodecV2
}

// NewCodec returns the codec the edge's server runs with (grpc.ForceServerCodecV2).
func NewCodec() Codec {
	return Codec{encoding.GetCodecV2(grpcproto.Name)}
}

// Unmarshal parses data into v, or hands it to a *rawRequest as it is.
func (c Codec) Unmarshal(data mem.BufferSlice, v any) error {
	if raw, ok := v.(*rawRequest); ok {
		raw.data = data.Materialize()
		return nil
	}
	return c.CodecV2.Unmarshal(data, v)
}
