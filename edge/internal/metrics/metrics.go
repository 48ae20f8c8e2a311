// Package metrics counts the edge's RPCs and exposes them, with the served score set, in the
// Prometheus text format. The names match the Python service's (services/metrics.py), so
// dashboards work against either server.
package metrics

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/ringwatch/edge/internal/scoreset"
)

// Buckets are the latency histogram's upper bounds in seconds; fine below 2 ms because that
// is the service's p99 goal.
var Buckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5}

const numCodes = 17 // gRPC status codes 0 (OK) to 16 (UNAUTHENTICATED)

type method struct {
	name    string
	counts  [numCodes]atomic.Uint64
	buckets []atomic.Uint64 // len(Buckets)+1, +Inf last; not cumulative
	sumNano atomic.Uint64
}

// Metrics is safe for concurrent use; recording a call is a few atomic adds.
type Metrics struct {
	methods    map[string]*method // by full method name, fixed at construction
	order      []*method
	BatchItems atomic.Uint64
	Swaps      atomic.Uint64
	store      *scoreset.Store
}

// New tracks the methods of service (full names "/service/Method") and the store's set.
func New(service string, methodNames []string, store *scoreset.Store) *Metrics {
	m := &Metrics{methods: make(map[string]*method, len(methodNames)), store: store}
	for _, name := range methodNames {
		mt := &method{name: name, buckets: make([]atomic.Uint64, len(Buckets)+1)}
		m.methods["/"+service+"/"+name] = mt
		m.order = append(m.order, mt)
	}
	return m
}

// Observe records one finished call; calls to methods not tracked are ignored.
func (m *Metrics) Observe(fullMethod string, code codes.Code, elapsed time.Duration) {
	mt := m.methods[fullMethod]
	if mt == nil {
		return
	}
	if int(code) < numCodes {
		mt.counts[code].Add(1)
	}
	i, _ := slices.BinarySearch(Buckets, elapsed.Seconds())
	mt.buckets[i].Add(1)
	mt.sumNano.Add(uint64(max(elapsed, 0)))
}

// ServeHTTP writes the Prometheus text exposition.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	m.Write(w, time.Now())
}

// Write writes every metric in the Prometheus text format.
func (m *Metrics) Write(w io.Writer, now time.Time) {
	var b strings.Builder
	b.WriteString("# HELP ringwatch_grpc_requests_total RPCs handled, by method and gRPC status code.\n")
	b.WriteString("# TYPE ringwatch_grpc_requests_total counter\n")
	for _, mt := range m.order {
		for code := range numCodes {
			if n := mt.counts[code].Load(); n > 0 {
				fmt.Fprintf(&b, "ringwatch_grpc_requests_total{method=%s,code=%s} %d\n",
					quote(mt.name), quote(codeNames[code]), n)
			}
		}
	}
	b.WriteString("# HELP ringwatch_grpc_request_seconds Server-side handling time of RPCs.\n")
	b.WriteString("# TYPE ringwatch_grpc_request_seconds histogram\n")
	for _, mt := range m.order {
		var acc uint64
		for i := range mt.buckets {
			acc += mt.buckets[i].Load()
			le := "+Inf"
			if i < len(Buckets) {
				le = strconv.FormatFloat(Buckets[i], 'g', -1, 64)
			}
			fmt.Fprintf(&b, "ringwatch_grpc_request_seconds_bucket{method=%s,le=%s} %d\n", quote(mt.name), quote(le), acc)
		}
		fmt.Fprintf(&b, "ringwatch_grpc_request_seconds_sum{method=%s} %g\n", quote(mt.name), float64(mt.sumNano.Load())/1e9)
		fmt.Fprintf(&b, "ringwatch_grpc_request_seconds_count{method=%s} %d\n", quote(mt.name), acc)
	}
	counter(&b, "ringwatch_grpc_batch_items_total", "Account ids asked for in BatchGetRiskScores.", m.BatchItems.Load())
	counter(&b, "ringwatch_score_swaps_total", "Hot swaps to a newer score set.", m.Swaps.Load())
	set := m.store.Current()
	b.WriteString("# HELP ringwatch_score_set_info The score set being served (value 1; versions in labels).\n")
	b.WriteString("# TYPE ringwatch_score_set_info gauge\n")
	age, accounts, loaded, warnings := math.NaN(), 0, 0, 0
	if set != nil {
		fmt.Fprintf(&b, "ringwatch_score_set_info{score_version=%s,model_version=%s,snapshot_version=%s} 1\n",
			quote(set.Info.ScoreVersion), quote(set.Info.ModelVersion), quote(set.Info.SnapshotVersion))
		age, accounts, loaded, warnings = set.Info.Age(now).Seconds(), set.Len(), 1, len(set.Info.Warnings)
	}
	gauge(&b, "ringwatch_score_set_age_seconds", "Seconds since the served score set was scored.", strconv.FormatFloat(age, 'g', -1, 64))
	gauge(&b, "ringwatch_score_set_accounts", "Accounts in the served score set.", strconv.Itoa(accounts))
	gauge(&b, "ringwatch_score_set_loaded", "1 when a score set is loaded.", strconv.Itoa(loaded))
	gauge(&b, "ringwatch_score_set_warnings", "Warnings scoring wrote for the served score set (0: nothing amiss).", strconv.Itoa(warnings))
	_, _ = io.WriteString(w, b.String())
}

func counter(b *strings.Builder, name, help string, value uint64) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, value)
}

func gauge(b *strings.Builder, name, help, value string) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %s\n", name, help, name, name, value)
}

// codeNames are the status codes' canonical names (as Python's grpc.StatusCode has them).
var codeNames = [numCodes]string{
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
	"PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
	"UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
}

// quote is a label value in the exposition format: backslash, double quote and newline escaped.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
