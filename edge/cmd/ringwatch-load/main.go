// Command ringwatch-load is a lean load client for RiskService lookups, for
// scripts/bench_service.py: it replays pre-serialised requests round robin over several
// connections, decodes every answer (as a Go caller would) and prints throughput and latency
// percentiles as JSON. Closed loop (default): a fixed number of calls in flight. Open loop
// (-rps R): call k is due at start + k/R whatever the server does, and its latency counts from
// when it was due, not from when it was sent, so a client or server that falls behind shows in
// the percentiles (no coordinated omission).
//
// ghz reproduces the single-lookup runs through reflection, but decoding batch answers into
// dynamic messages costs it more CPU than the server spends, on the cores they share; this
// client uses the generated types instead.
//
// Usage:
//
//	ringwatch-load -target 127.0.0.1:50051 -method batch -requests FILE [-c 8] [-connections 2] [-duration 10s]
//	ringwatch-load -target 127.0.0.1:50051 -method get -requests FILE -rps 3000 [-connections 2] [-duration 10s]
//
// FILE holds requests as length-delimited protobuf messages (a varint length before each).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protodelim"
	"google.golang.org/protobuf/proto"

	ringwatchv1 "github.com/ringwatch/edge/gen/ringwatch/v1"
)

type result struct {
	Method      string  `json:"method"`
	OfferedRPS  float64 `json:"offered_rps,omitempty"`
	Concurrency int     `json:"concurrency"`
	Connections int     `json:"connections"`
	Calls       int     `json:"calls"`
	Errors      int     `json:"errors"`
	QPS         float64 `json:"qps"`
	Items       int     `json:"items_per_call"`
	P50ms       float64 `json:"p50_ms"`
	P99ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
	// Open loop only: the same calls timed from when they were sent, i.e. without the
	// client's own lag behind its schedule (timer wake-ups, scheduling on shared cores).
	SentP50ms float64 `json:"sent_p50_ms,omitempty"`
	SentP99ms float64 `json:"sent_p99_ms,omitempty"`
}

func main() {
	target := flag.String("target", "127.0.0.1:50051", "server host:port (plaintext)")
	method := flag.String("method", "batch", "get (GetRiskScore) or batch (BatchGetRiskScores)")
	requests := flag.String("requests", "", "file of length-delimited serialised requests (required)")
	concurrency := flag.Int("c", 8, "calls in flight")
	connections := flag.Int("connections", 2, "connections the calls are spread over")
	duration := flag.Duration("duration", 10*time.Second, "how long to run")
	rps := flag.Float64("rps", 0, "open loop: calls due per second (0: closed loop with -c in flight)")
	flag.Parse()
	res, err := run(*target, *method, *requests, *concurrency, *connections, *duration, *rps)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ringwatch-load:", err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(res)
}

// call sends request i of the file and returns how many items the answer held.
type call func(ctx context.Context, client ringwatchv1.RiskServiceClient, i int) (int, error)

func load(path, method string) (call, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	switch method {
	case "get":
		reqs, err := readAll(r, func() *ringwatchv1.GetRiskScoreRequest { return &ringwatchv1.GetRiskScoreRequest{} })
		return func(ctx context.Context, c ringwatchv1.RiskServiceClient, i int) (int, error) {
			_, err := c.GetRiskScore(ctx, reqs[i%len(reqs)])
			return 1, err
		}, err
	case "batch":
		reqs, err := readAll(r, func() *ringwatchv1.BatchGetRiskScoresRequest { return &ringwatchv1.BatchGetRiskScoresRequest{} })
		return func(ctx context.Context, c ringwatchv1.RiskServiceClient, i int) (int, error) {
			resp, err := c.BatchGetRiskScores(ctx, reqs[i%len(reqs)])
			return len(resp.GetRisks()), err
		}, err
	}
	return nil, fmt.Errorf("unknown -method %q (get or batch)", method)
}

func readAll[M proto.Message](r *bufio.Reader, fresh func() M) ([]M, error) {
	var out []M
	for {
		m := fresh()
		err := protodelim.UnmarshalFrom(r, m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, errors.New("no requests in the file")
	}
	return out, nil
}

func run(target, method, path string, concurrency, connections int, duration time.Duration, rps float64) (result, error) {
	send, err := load(path, method)
	if err != nil {
		return result{}, err
	}
	clients := make([]ringwatchv1.RiskServiceClient, connections)
	for i := range clients {
		conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20))) // one connection each
		if err != nil {
			return result{}, err
		}
		defer conn.Close()
		conn.Connect()
		clients[i] = ringwatchv1.NewRiskServiceClient(conn)
	}
	var rec, sent recorder
	started := time.Now()
	if rps > 0 {
		openLoop(send, clients, rps, duration, &rec, &sent)
		concurrency = 0
	} else {
		closedLoop(send, clients, concurrency, started.Add(duration), &rec)
	}
	elapsed := time.Since(started)
	res := result{
		Method: method, OfferedRPS: rps, Concurrency: concurrency, Connections: connections, Calls: len(rec.latencies),
		Errors: rec.errs, QPS: float64(len(rec.latencies)) / elapsed.Seconds(), Items: rec.items,
		P50ms: rec.quantileMs(0.5), P99ms: rec.quantileMs(0.99), MaxMs: rec.quantileMs(1),
	}
	if rps > 0 {
		res.SentP50ms, res.SentP99ms = sent.quantileMs(0.5), sent.quantileMs(0.99)
	}
	return res, nil
}

// recorder collects the latencies of successful calls and counts the failed ones.
type recorder struct {
	mu        sync.Mutex
	latencies []time.Duration
	errs      int
	items     int
}

// quantileMs is the q-quantile of the recorded latencies in milliseconds (sorts them).
func (r *recorder) quantileMs(q float64) float64 {
	if len(r.latencies) == 0 {
		return 0
	}
	slices.Sort(r.latencies)
	return float64(r.latencies[min(int(q*float64(len(r.latencies))), len(r.latencies)-1)].Microseconds()) / 1e3
}

func (r *recorder) add(lat []time.Duration, errs, items int) {
	r.mu.Lock()
	r.latencies, r.errs, r.items = append(r.latencies, lat...), r.errs+errs, max(r.items, items)
	r.mu.Unlock()
}

// closedLoop keeps concurrency calls in flight until stop; latency counts from each send.
func closedLoop(send call, clients []ringwatchv1.RiskServiceClient, concurrency int, stop time.Time, rec *recorder) {
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := clients[w%len(clients)]
			var mine []time.Duration
			bad, got := 0, 0
			for i := w; time.Now().Before(stop); i += concurrency {
				t0 := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				n, err := send(ctx, client, i)
				cancel()
				if err != nil {
					bad++
					continue
				}
				mine = append(mine, time.Since(t0))
				got = n
			}
			rec.add(mine, bad, got)
		}()
	}
	wg.Wait()
}

// openLoop starts call k at start + k/rps (on its own goroutine, round robin over the
// connections) until duration has passed, and waits for them all. rec gets each latency from
// when the call was due, so time the client spent behind schedule is charged to the call;
// sent gets it from when the call was sent.
func openLoop(send call, clients []ringwatchv1.RiskServiceClient, rps float64, duration time.Duration, rec, sent *recorder) {
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) / rps)
	total := int(duration.Seconds() * rps)
	if total == 0 {
		return
	}
	fromDue := make([]time.Duration, total) // one slot per call, written by its goroutine only; -1: failed
	fromSend := make([]time.Duration, total)
	items := make([]int, total)
	start := time.Now()
	for k := 0; k < total; {
		now := time.Now()
		for ; k < total && !start.Add(time.Duration(k)*interval).After(now); k++ { // all calls due by now
			wg.Add(1)
			go func(k int, due time.Time) {
				defer wg.Done()
				t0 := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				n, err := send(ctx, clients[k%len(clients)], k)
				cancel()
				if err != nil {
					fromDue[k] = -1
					return
				}
				fromDue[k], fromSend[k], items[k] = time.Since(due), time.Since(t0), n
			}(k, start.Add(time.Duration(k)*interval))
		}
		if k < total {
			time.Sleep(time.Until(start.Add(time.Duration(k) * interval)))
		}
	}
	wg.Wait()
	okDue, okSend := fromDue[:0], fromSend[:0]
	for k, d := range fromDue {
		if d >= 0 {
			okDue, okSend = append(okDue, d), append(okSend, fromSend[k])
		}
	}
	rec.add(okDue, total-len(okDue), slices.Max(items))
	sent.add(okSend, 0, 0)
}
