// Package riskservice implements ringwatch.v1.RiskService for the edge: single and batch
// lookups are answered from the memory-mapped score set, with the Python service's status
// codes, messages and id rules; ExplainRiskScore, GetRing and WatchRiskScores are forwarded to
// the Python backend with the caller's metadata, deadline and cancellation, and its status
// codes come back unchanged.
package riskservice

import (
	"context"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	ringwatchv1 "github.com/ringwatch/edge/gen/ringwatch/v1"
	"github.com/ringwatch/edge/internal/scoreset"
)

// ServiceName is the gRPC service's full name.
const ServiceName = "ringwatch.v1.RiskService"

// MaxBatch is the most ids one BatchGetRiskScores call may carry.
const MaxBatch = 10_000

// nan is the NaN NumPy writes (0x7fc00000), so batch answers match the Python service's bytes.
var nan = math.Float32frombits(0x7fc00000)

// Service answers RiskService calls.
type Service struct {
	ringwatchv1.UnimplementedRiskServiceServer
	store    *scoreset.Store
	backend  ringwatchv1.RiskServiceClient
	maxBatch int
	// OnBatch is told the size of every well-formed batch (metrics); may be nil.
	OnBatch  func(items int)
	scoreSet atomic.Pointer[scoreSetMessage]
}

type scoreSetMessage struct {
	set *scoreset.Set
	msg *ringwatchv1.ScoreSet
}

// New answers lookups from store and forwards the rest to backend.
func New(store *scoreset.Store, backend ringwatchv1.RiskServiceClient, maxBatch int) *Service {
	return &Service{store: store, backend: backend, maxBatch: maxBatch}
}

// snapshot is the set to answer one call from (one reference for the whole call).
func (s *Service) snapshot(ctx context.Context) (*scoreset.Set, error) {
	if err := ctx.Err(); err != nil {
		return nil, status.FromContextError(err).Err()
	}
	set := s.store.Current()
	if set == nil {
		return nil, status.Error(codes.Unavailable, "no score set is loaded yet; retry once health reports SERVING")
	}
	return set, nil
}

// scoreSetOf is the ScoreSet message of set, built once per set and shared (read-only).
func (s *Service) scoreSetOf(set *scoreset.Set) *ringwatchv1.ScoreSet {
	if cached := s.scoreSet.Load(); cached != nil && cached.set == set {
		return cached.msg
	}
	msg := &ringwatchv1.ScoreSet{
		ScoreVersion: set.Info.ScoreVersion, ModelVersion: set.Info.ModelVersion, SnapshotVersion: set.Info.SnapshotVersion,
		Warnings: set.Info.Warnings,
	}
	if !set.Info.ScoredAt.IsZero() {
		msg.ScoredAt = timestamppb.New(set.Info.ScoredAt)
	}
	s.scoreSet.Store(&scoreSetMessage{set: set, msg: msg})
	return msg
}

// GetRiskScore answers from the current set: INVALID_ARGUMENT for a malformed id, NOT_FOUND
// for an unknown account, UNAVAILABLE when nothing is loaded.
func (s *Service) GetRiskScore(ctx context.Context, req *ringwatchv1.GetRiskScoreRequest) (*ringwatchv1.GetRiskScoreResponse, error) {
	set, err := s.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	id := req.GetAccountId()
	if !scoreset.ValidID(id) {
		return nil, malformed("account_id", id)
	}
	row := set.Find(id)
	if row < 0 {
		return nil, status.Errorf(codes.NotFound, "account %s is not in score set %s", pyRepr(id), set.Info.ScoreVersion)
	}
	return &ringwatchv1.GetRiskScoreResponse{
		AccountId: id,
		Risk:      set.Risk(row),
		Level:     ringwatchv1.RiskLevel(set.Level(row)),
		RingId:    set.RingID(row),
		Reasons:   set.Reasons(row),
		ScoreSet:  s.scoreSetOf(set),
	}, nil
}

// BatchGetRiskScores answers 1 to maxBatch ids in request order, with a status per item; the
// call itself fails with INVALID_ARGUMENT only when the batch is empty or too large.
func (s *Service) BatchGetRiskScores(ctx context.Context, req *ringwatchv1.BatchGetRiskScoresRequest) (*ringwatchv1.BatchGetRiskScoresResponse, error) {
	ids := req.GetAccountIds()
	n := len(ids)
	if s.OnBatch != nil { // every id asked for, as the Python service counts them (refused batches too)
		s.OnBatch(n)
	}
	set, err := s.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, status.Errorf(codes.InvalidArgument, "account_ids is empty; send 1 to %d ids", s.maxBatch)
	}
	if n > s.maxBatch {
		return nil, status.Errorf(codes.InvalidArgument, "%d account_ids is above the maximum batch of %d; split the request", n, s.maxBatch)
	}
	resp := &ringwatchv1.BatchGetRiskScoresResponse{
		Statuses: make([]ringwatchv1.ItemStatus, n),
		Risks:    make([]float32, n),
		Levels:   make([]ringwatchv1.RiskLevel, n),
		ScoreSet: s.scoreSetOf(set),
	}
	if req.GetIncludeRingIds() {
		resp.RingIds = make([]string, n)
	}
	for i, id := range ids {
		row := set.Find(id)
		switch {
		case row >= 0:
			resp.Statuses[i] = ringwatchv1.ItemStatus_ITEM_STATUS_OK
			resp.Risks[i] = set.Risk(row)
			resp.Levels[i] = ringwatchv1.RiskLevel(set.Level(row))
			if resp.RingIds != nil {
				resp.RingIds[i] = set.RingID(row)
			}
			resp.Found++
			continue
		case scoreset.ValidID(id):
			resp.Statuses[i] = ringwatchv1.ItemStatus_ITEM_STATUS_NOT_FOUND
			resp.NotFound++
		default:
			resp.Statuses[i] = ringwatchv1.ItemStatus_ITEM_STATUS_INVALID_ARGUMENT
			resp.Invalid++
		}
		resp.Risks[i] = nan
	}
	return resp, nil
}

// ExplainRiskScore is forwarded to the Python backend.
func (s *Service) ExplainRiskScore(ctx context.Context, req *ringwatchv1.ExplainRiskScoreRequest) (*ringwatchv1.ExplainRiskScoreResponse, error) {
	ctx, cancel := forwardContext(ctx)
	defer cancel()
	return s.backend.ExplainRiskScore(ctx, req)
}

// GetRing is forwarded to the Python backend.
func (s *Service) GetRing(ctx context.Context, req *ringwatchv1.GetRingRequest) (*ringwatchv1.GetRingResponse, error) {
	ctx, cancel := forwardContext(ctx)
	defer cancel()
	return s.backend.GetRing(ctx, req)
}

// WatchRiskScores relays the Python backend's stream until either side ends it; the caller's
// cancellation or deadline cancels the backend stream too.
func (s *Service) WatchRiskScores(req *ringwatchv1.WatchRiskScoresRequest, stream grpc.ServerStreamingServer[ringwatchv1.RiskLevelChange]) error {
	ctx, cancel := forwardContext(stream.Context())
	defer cancel()
	upstream, err := s.backend.WatchRiskScores(ctx, req)
	if err != nil {
		return err
	}
	for {
		change, err := upstream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(change); err != nil {
			return err
		}
	}
}

// deadlineMargin is how long before the caller's deadline a forwarded call is ended. grpc-go's
// transport resets a stream (RST_STREAM CANCEL) the moment its deadline passes, which a client
// can see as CANCELLED; ending the backend call a little earlier lets the edge answer with the
// backend's DEADLINE_EXCEEDED status first, as the Python service does.
const deadlineMargin = 10 * time.Millisecond

// forwardContext carries the caller's metadata (authorization included), cancellation and
// deadline (less deadlineMargin) to the backend. Transport headers are left to gRPC.
func forwardContext(ctx context.Context) (context.Context, context.CancelFunc) {
	in, _ := metadata.FromIncomingContext(ctx)
	out := metadata.MD{}
	for key, values := range in {
		if strings.HasPrefix(key, ":") || strings.HasPrefix(key, "grpc-") ||
			key == "content-type" || key == "user-agent" || key == "te" {
			continue
		}
		out[key] = values
	}
	ctx = metadata.NewOutgoingContext(ctx, out)
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) > 2*deadlineMargin {
		return context.WithDeadline(ctx, deadline.Add(-deadlineMargin))
	}
	return context.WithCancel(ctx)
}

func malformed(what, id string) error {
	shown := id
	if r := []rune(id); len(r) > 40 {
		shown = string(r[:40]) + "..."
	}
	return status.Errorf(codes.InvalidArgument, "%s %s is malformed: expected 1-%d printable characters", what, pyRepr(shown), scoreset.MaxIDChars)
}

// pyRepr quotes s like Python's repr in the Python service's messages: single quotes unless
// s holds one (escapes are Go's, which agree with Python's for the common ones).
func pyRepr(s string) string {
	q := strconv.Quote(s)
	if strings.Contains(s, "'") {
		return q
	}
	return "'" + strings.ReplaceAll(q[1:len(q)-1], `\"`, `"`) + "'"
}
