package riskservice

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ringwatchv1 "github.com/ringwatch/edge/gen/ringwatch/v1"
)

type garbledStream struct {
	grpc.ServerStream
}

func (garbledStream) Context() context.Context { return context.Background() }

// RecvMsg hands over bytes as the server's Codec does: unparsed.
func (g garbledStream) RecvMsg(m any) error {
	m.(*rawRequest).data = []byte{0xff, 0xff, 0xff}
	return nil
}

// A streamed request that does not parse is INVALID_ARGUMENT, as the Python service answers it.
func TestStreamedRequestThatDoesNotParseIsInvalidArgument(t *testing.T) {
	desc := ServiceDesc(grpc.ServiceDesc{ServiceName: "s", Streams: []grpc.StreamDesc{{
		StreamName: "Watch", ServerStreams: true,
		Handler: func(_ any, stream grpc.ServerStream) error {
			return stream.RecvMsg(new(ringwatchv1.WatchRiskScoresRequest))
		},
	}}})
	err := desc.Streams[0].Handler(nil, garbledStream{})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("got %v, want INVALID_ARGUMENT", err)
	}
}

// A cancel once the deadline passed is counted as DEADLINE_EXCEEDED; before it, as CANCELLED.
func TestCodeOfCountsACancelAtTheDeadlineAsDeadlineExceeded(t *testing.T) {
	past, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if got := codeOf(past, status.Error(codes.Canceled, "reset")); got != codes.DeadlineExceeded {
		t.Fatalf("got %v at the deadline", got)
	}
	future, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(time.Hour))
	defer cancel2()
	if got := codeOf(future, status.Error(codes.Canceled, "gone")); got != codes.Canceled {
		t.Fatalf("got %v before the deadline", got)
	}
}
