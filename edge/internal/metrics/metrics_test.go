package metrics

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/ringwatch/edge/internal/scoreset"
)

func TestExposition(t *testing.T) {
	store := scoreset.NewStore("/nonexistent/SERVING.json", slog.New(slog.NewTextHandler(io.Discard, nil)))
	m := New("ringwatch.v1.RiskService", []string{"GetRiskScore", "BatchGetRiskScores"}, store)
	m.Observe("/ringwatch.v1.RiskService/GetRiskScore", codes.OK, 300*time.Microsecond)
	m.Observe("/ringwatch.v1.RiskService/GetRiskScore", codes.NotFound, 3*time.Millisecond)
	m.Observe("/grpc.health.v1.Health/Check", codes.OK, time.Millisecond) // not tracked
	m.BatchItems.Add(7)
	var b strings.Builder
	m.Write(&b, time.Now())
	lines := strings.Split(b.String(), "\n")
	for _, want := range []string{
		`ringwatch_grpc_requests_total{method="GetRiskScore",code="OK"} 1`,
		`ringwatch_grpc_requests_total{method="GetRiskScore",code="NOT_FOUND"} 1`,
		`ringwatch_grpc_request_seconds_bucket{method="GetRiskScore",le="0.00025"} 0`,
		`ringwatch_grpc_request_seconds_bucket{method="GetRiskScore",le="0.0005"} 1`,
		`ringwatch_grpc_request_seconds_bucket{method="GetRiskScore",le="+Inf"} 2`,
		`ringwatch_grpc_request_seconds_count{method="GetRiskScore"} 2`,
		`ringwatch_grpc_request_seconds_count{method="BatchGetRiskScores"} 0`,
		`ringwatch_grpc_batch_items_total 7`,
		`ringwatch_score_set_loaded 0`,
		`ringwatch_score_set_age_seconds NaN`,
		`ringwatch_score_set_warnings 0`,
	} {
		found := false
		for _, line := range lines {
			found = found || line == want
		}
		if !found {
			t.Errorf("missing %q in\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "Health") {
		t.Error("an untracked method was exported")
	}
}

func TestQuote(t *testing.T) {
	if got := quote("a\"b\\c\nd"); got != `"a\"b\\c\nd"` {
		t.Fatalf("quote: %s", got)
	}
}
