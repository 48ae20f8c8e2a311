package riskservice

import (
	"context"
	"crypto/subtle"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
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
		observe(info.FullMethod, status.Code(err), time.Since(started))
		return resp, err
	}
}

// ObserveStream times streaming calls into observe.
func ObserveStream(observe Observer) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		started := time.Now()
		err := handler(srv, ss)
		observe(info.FullMethod, status.Code(err), time.Since(started))
		return err
	}
}

// ServiceDesc is the generated RiskService description with one change: a request that does
// not parse is INVALID_ARGUMENT (as the Python service answers it), not gRPC's INTERNAL.
func ServiceDesc(desc grpc.ServiceDesc) *grpc.ServiceDesc {
	methods := make([]grpc.MethodDesc, len(desc.Methods))
	for i, m := range desc.Methods {
		handler := m.Handler
		m.Handler = func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			return handler(srv, ctx, func(v any) error {
				if err := dec(v); err != nil {
					return status.Errorf(codes.InvalidArgument, "the request does not parse: %v", status.Convert(err).Message())
				}
				return nil
			}, interceptor)
		}
		methods[i] = m
	}
	desc.Methods = methods
	return &desc
}
