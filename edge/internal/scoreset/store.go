package scoreset

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Pointer is the content of the pointer file (SERVING.json) that the Python score store
// writes atomically after it has verified and loaded a score set.
type Pointer struct {
	CacheDir        string   `json:"cache_dir"`
	ScoreVersion    string   `json:"score_version"`
	ModelVersion    string   `json:"model_version"`
	SnapshotVersion string   `json:"snapshot_version"`
	ScoredAt        *string  `json:"scored_at"`
	Accounts        int      `json:"accounts"`
	Warnings        []string `json:"warnings"`
}

// Info is the set information the pointer announces.
func (p Pointer) Info() (Info, error) {
	info := Info{ScoreVersion: p.ScoreVersion, ModelVersion: p.ModelVersion, SnapshotVersion: p.SnapshotVersion, Accounts: p.Accounts,
		Warnings: p.Warnings}
	if p.CacheDir == "" || p.ScoreVersion == "" {
		return info, errors.New("cache_dir and score_version are required")
	}
	if p.ScoredAt != nil && *p.ScoredAt != "" {
		t, err := time.Parse(time.RFC3339Nano, *p.ScoredAt)
		if err != nil {
			return info, fmt.Errorf("scored_at: %w", err)
		}
		info.ScoredAt = t
	}
	return info, nil
}

// SwapFunc is told about every swap; old is nil for the first set.
type SwapFunc func(old, new *Set)

// Store holds the current Set and hot-swaps it when the pointer file changes. Readers take
// one reference per request (Current) so an answer never mixes two sets.
type Store struct {
	path    string
	log     *slog.Logger
	current atomic.Pointer[Set]

	mu      sync.Mutex
	seen    []byte // pointer file content last acted on (loaded or refused)
	onSwap  []SwapFunc
	lastErr error
}

// NewStore returns an empty store that follows the pointer file at path.
func NewStore(path string, log *slog.Logger) *Store {
	return &Store{path: path, log: log}
}

// Current is the set to answer from, or nil when none is loaded yet.
func (st *Store) Current() *Set { return st.current.Load() }

// OnSwap registers f to run after every swap (on the refreshing goroutine).
func (st *Store) OnSwap(f SwapFunc) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.onSwap = append(st.onSwap, f)
}

// LastError is why the last announced set was refused; nil after a successful load.
func (st *Store) LastError() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.lastErr
}

// Refresh loads the set the pointer file names if it changed since the last attempt. A set
// that fails to load is refused: logged, remembered (not retried until the pointer changes)
// and the current set keeps serving; an operating-system error is retried at the next call.
// It reports whether a new set was swapped in.
func (st *Store) Refresh() bool {
	st.mu.Lock()
	raw, err := os.ReadFile(st.path)
	if err != nil || bytes.Equal(raw, st.seen) {
		st.mu.Unlock()
		return false // no pointer yet (nothing published), or nothing new
	}
	fresh, err := load(raw)
	old := st.current.Load()
	if err != nil {
		// an operating-system error (a file not there yet, no file handles, no memory) is not the
		// set's fault: retried at the next poll, as the Python service does; anything else refuses it
		transient := isTransient(err)
		if !transient {
			st.seen = raw
		}
		repeated := st.lastErr != nil && st.lastErr.Error() == err.Error()
		st.lastErr = err
		st.mu.Unlock()
		serving := "nothing"
		if old != nil {
			serving = old.Info.ScoreVersion
		}
		if !repeated {
			st.log.Error("cannot load score set", "pointer", st.path, "serving", serving, "retried", transient, "error", err.Error())
		}
		return false
	}
	st.seen = raw
	st.lastErr = nil
	st.current.Store(fresh)
	listeners := append([]SwapFunc(nil), st.onSwap...)
	st.mu.Unlock()
	was := ""
	if old != nil {
		was = old.Info.ScoreVersion
	}
	st.log.Info("serving score set", "score_version", fresh.Info.ScoreVersion, "accounts", fresh.Len(),
		"model_version", fresh.Info.ModelVersion, "snapshot_version", fresh.Info.SnapshotVersion,
		"load_seconds", time.Since(fresh.Info.LoadedAt).Seconds(), "was", was)
	for _, w := range fresh.Info.Warnings {
		st.log.Warn("score set warning", "score_version", fresh.Info.ScoreVersion, "warning", w)
	}
	for _, f := range listeners {
		f(old, fresh)
	}
	return true
}

func load(raw []byte) (*Set, error) {
	started := time.Now()
	var p Pointer
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("pointer file: %w", err)
	}
	info, err := p.Info()
	if err != nil {
		return nil, fmt.Errorf("pointer file: %w", err)
	}
	s, err := Load(p.CacheDir, info)
	if err != nil {
		return nil, err
	}
	s.Info.LoadedAt = started
	return s, nil
}

// Watch refreshes every interval until ctx is done.
func (st *Store) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			st.Refresh()
		}
	}
}

// isTransient reports whether err came from the operating system (a path, an errno) rather
// than from what the set's files hold.
func isTransient(err error) bool {
	var pathErr *fs.PathError
	var errno syscall.Errno
	return errors.As(err, &pathErr) || errors.As(err, &errno)
}
