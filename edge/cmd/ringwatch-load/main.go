// Command ringwatch-load is a lean closed-loop load client for RiskService lookups, for
// scripts/bench_service.py: it replays pre-serialised requests round robin with a fixed number
// in flight over several connections, decodes every answer (as a Go caller would) and prints
// throughput and latency percentiles as JSON.
//
// ghz reproduces the single-lookup runs through reflection, but decoding batch answers into
// dynamic messages costs it more CPU than the server spends, on the cores they share; this
// client uses the generated types instead.
//
// Usage:
//
//	ringwatch-load -target 127.0.0.1:50051 -method batch -requests FILE [-c 8] [-connections 2] [-duration 10s]
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
	Concurrency int     `json:"concurrency"`
	Connections int     `json:"connections"`
	Calls       int     `json:"calls"`
	Errors      int     `json:"errors"`
	QPS         float64 `json:"qps"`
	Items       int     `json:"items_per_call"`
	P50ms       float64 `json:"p50_ms"`
	P99ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
}

func main() {
	target := flag.String("target", "127.0.0.1:50051", "server host:port (plaintext)")
	method := flag.String("method", "batch", "get (GetRiskScore) or batch (BatchGetRiskScores)")
	requests := flag.String("requests", "", "file of length-delimited serialised requests (required)")
	concurrency := flag.Int("c", 8, "calls in flight")
	connections := flag.Int("connections", 2, "connections the calls are spread over")
	duration := flag.Duration("duration", 10*time.Second, "how long to run")
	flag.Parse()
	res, err := run(*target, *method, *requests, *concurrency, *connections, *duration)
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

func run(target, method, path string, concurrency, connections int, duration time.Duration) (result, error) {
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
		clients[i] = ringwatchv1.NewRiskServiceClient(conn)
	}
	var (
		mu        sync.Mutex
		latencies []time.Duration
		errs      int
		items     int
		wg        sync.WaitGroup
	)
	started := time.Now()
	stop := started.Add(duration)
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := clients[w%connections]
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
			mu.Lock()
			latencies, errs, items = append(latencies, mine...), errs+bad, max(items, got)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(started)
	slices.Sort(latencies)
	ms := func(q float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		return float64(latencies[min(int(q*float64(len(latencies))), len(latencies)-1)].Microseconds()) / 1e3
	}
	return result{
		Method: method, Concurrency: concurrency, Connections: connections, Calls: len(latencies), Errors: errs,
		QPS: float64(len(latencies)) / elapsed.Seconds(), Items: items, P50ms: ms(0.5), P99ms: ms(0.99), MaxMs: ms(1),
	}, nil
}
