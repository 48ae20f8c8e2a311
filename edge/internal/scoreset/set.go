// Package scoreset holds the score sets the edge answers from: columnar arrays that the
// Python control plane (services/score_store.py) writes as .npy files, memory-mapped here,
// with an id → row map built at load, and a Store that hot-swaps to a newly published set.
package scoreset

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ringwatch/edge/internal/npy"
)

// MaxIDChars is the longest valid account id, in characters (code points).
const MaxIDChars = 128

// ValidID reports whether id is a well-formed account id: 1 to MaxIDChars characters, all
// printable. Go's unicode.IsPrint (letters, marks, numbers, punctuation, symbols and the
// ASCII space) is the same rule as Python's str.isprintable, which the Python service uses.
func ValidID(id string) bool {
	if id == "" || !utf8.ValidString(id) {
		return false
	}
	n := 0
	for _, r := range id {
		n++
		if n > MaxIDChars || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// Info says which published score set a Set holds; every answer carries it.
type Info struct {
	ScoreVersion    string
	ModelVersion    string
	SnapshotVersion string
	// ScoredAt is when scoring ran; zero when the manifest did not say.
	ScoredAt time.Time
	// Accounts is the number of scored accounts.
	Accounts int
	// Warnings say why the set's levels may mislead (scoring wrote them; empty: nothing amiss).
	Warnings []string
	// LoadedAt is when this process loaded the set.
	LoadedAt time.Time
	// Dir is the cache directory the arrays were mapped from.
	Dir string
}

// Age is the time since scoring ran (since loading when the scoring time is unknown).
func (i Info) Age(now time.Time) time.Duration {
	ref := i.ScoredAt
	if ref.IsZero() {
		ref = i.LoadedAt
	}
	return max(now.Sub(ref), 0)
}

// Set is one loaded, immutable score set. Share it freely between goroutines; its memory
// is unmapped once nothing references it any more, so a request that holds a Set can always
// finish on it, even after a hot swap.
type Set struct {
	Info        Info
	rows        *index
	risk        []float32
	level       []uint8
	ringOffsets []int64
	ringData    []byte
	reasonsOffs []int64
	reasonsData []byte
}

// columns are the .npy files of a cache directory, in the order they are opened.
var columns = []string{"ids", "risk", "level", "ring_offsets", "ring_data", "reasons_offsets", "reasons_data"}

// Load maps the .npy columns in dir and checks every dtype, shape and offset before building
// the id → row map. A set that fails any check is refused with an error; nothing of it stays
// mapped.
func Load(dir string, info Info) (*Set, error) {
	arrays := make(map[string]*npy.Array, len(columns))
	closeAll := func() {
		for _, a := range arrays {
			_ = a.Close()
		}
	}
	for _, name := range columns {
		a, err := npy.Open(filepath.Join(dir, name+".npy"))
		if err != nil {
			closeAll()
			return nil, err
		}
		arrays[name] = a
	}
	s, err := assemble(arrays)
	if err != nil {
		closeAll()
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	if info.Accounts != 0 && info.Accounts != len(s.risk) {
		closeAll()
		return nil, fmt.Errorf("%s: %d accounts, the pointer file says %d", dir, len(s.risk), info.Accounts)
	}
	info.Accounts, info.LoadedAt, info.Dir = len(s.risk), time.Now(), dir
	s.Info = info
	mapped := make([]*npy.Array, 0, len(arrays))
	for _, a := range arrays {
		mapped = append(mapped, a)
	}
	runtime.AddCleanup(s, func(mapped []*npy.Array) {
		for _, a := range mapped {
			_ = a.Close()
		}
	}, mapped)
	return s, nil
}

func assemble(arrays map[string]*npy.Array) (*Set, error) {
	s := &Set{}
	var err error
	if s.risk, err = npy.View[float32](arrays["risk"], "<f4"); err != nil {
		return nil, fmt.Errorf("risk.npy: %w", err)
	}
	if s.level, err = npy.View[uint8](arrays["level"], "|u1"); err != nil {
		return nil, fmt.Errorf("level.npy: %w", err)
	}
	n := len(s.risk)
	if len(s.level) != n {
		return nil, fmt.Errorf("level.npy has %d rows, risk.npy %d", len(s.level), n)
	}
	for row, l := range s.level {
		if l < 1 || l > 4 {
			return nil, fmt.Errorf("level.npy: row %d has level code %d, expected 1-4", row, l)
		}
	}
	if s.ringOffsets, s.ringData, err = stringColumn(arrays, "ring", n); err != nil {
		return nil, err
	}
	if s.reasonsOffs, s.reasonsData, err = stringColumn(arrays, "reasons", n); err != nil {
		return nil, err
	}
	if s.rows, err = indexIDs(arrays["ids"], n); err != nil {
		return nil, fmt.Errorf("ids.npy: %w", err)
	}
	return s, nil
}

// stringColumn checks an Arrow-style string column: n+1 non-decreasing offsets from 0 to the
// data's length, and valid UTF-8 between them.
func stringColumn(arrays map[string]*npy.Array, name string, n int) ([]int64, []byte, error) {
	offsets, err := npy.View[int64](arrays[name+"_offsets"], "<i8")
	if err != nil {
		return nil, nil, fmt.Errorf("%s_offsets.npy: %w", name, err)
	}
	data, err := npy.View[uint8](arrays[name+"_data"], "|u1")
	if err != nil {
		return nil, nil, fmt.Errorf("%s_data.npy: %w", name, err)
	}
	if len(offsets) != n+1 {
		return nil, nil, fmt.Errorf("%s_offsets.npy has %d offsets for %d rows", name, len(offsets), n)
	}
	if offsets[0] != 0 || offsets[n] != int64(len(data)) {
		return nil, nil, fmt.Errorf("%s_offsets.npy spans [%d, %d], data has %d bytes", name, offsets[0], offsets[n], len(data))
	}
	for i := range n {
		if offsets[i+1] < offsets[i] {
			return nil, nil, fmt.Errorf("%s_offsets.npy decreases at row %d", name, i)
		}
	}
	if !utf8.Valid(data) {
		return nil, nil, fmt.Errorf("%s_data.npy is not UTF-8", name)
	}
	return offsets, data, nil
}

// indexIDs decodes the fixed-width UTF-32 ids into one UTF-8 buffer and indexes it (a repeated
// id answers its first row, as in the Python store).
func indexIDs(a *npy.Array, n int) (*index, error) {
	width, units, err := a.Strings()
	if err != nil {
		return nil, err
	}
	if a.Shape[0] != n {
		return nil, fmt.Errorf("%d ids for %d rows", a.Shape[0], n)
	}
	buf := make([]byte, 0, n*min(width, 16))
	ends := make([]uint32, n)
	for row := range n {
		start := len(buf)
		for _, u := range units[row*width : (row+1)*width] {
			if u == 0 {
				break
			}
			if !utf8.ValidRune(rune(u)) {
				return nil, fmt.Errorf("row %d holds code point %#x, not a character", row, u)
			}
			buf = utf8.AppendRune(buf, rune(u))
		}
		if len(buf) == start {
			return nil, fmt.Errorf("row %d has an empty id", row)
		}
		if len(buf) > math.MaxUint32 {
			return nil, fmt.Errorf("ids take more than %d bytes", uint32(math.MaxUint32))
		}
		ends[row] = uint32(len(buf))
	}
	return newIndex(buf, ends)
}

// Len is the number of scored accounts.
func (s *Set) Len() int { return len(s.risk) }

// Find returns the row of id, or -1 when it is not scored.
func (s *Set) Find(id string) int { return s.rows.find(id) }

// Risk is the calibrated risk at row.
func (s *Set) Risk(row int) float32 {
	r := s.risk[row]
	runtime.KeepAlive(s) // the mapping lives as long as s: keep s alive until the read is done
	return r
}

// Level is the RiskLevel code (1 LOW … 4 CRITICAL) at row.
func (s *Set) Level(row int) uint8 {
	l := s.level[row]
	runtime.KeepAlive(s)
	return l
}

// RingID is the ring of the account at row; empty when none. The string is a copy, so it
// outlives the mapping.
func (s *Set) RingID(row int) string {
	ring := string(s.ringData[s.ringOffsets[row]:s.ringOffsets[row+1]])
	runtime.KeepAlive(s)
	return ring
}

// Reasons are the short reasons of the account at row, decoded from the stored JSON list as
// the Python service does: empty text gives none, text that is not JSON is one reason, and a
// JSON value that is not a list is one reason. Non-string list items are kept as their JSON.
func (s *Set) Reasons(row int) []string {
	text := []byte(string(s.reasonsData[s.reasonsOffs[row]:s.reasonsOffs[row+1]]))
	runtime.KeepAlive(s)
	if len(text) == 0 {
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(text, &items); err != nil {
		var value any
		var syntax *json.SyntaxError
		if errors.As(json.Unmarshal(text, &value), &syntax) {
			return []string{string(text)}
		}
		return []string{jsonText(text)}
	}
	reasons := make([]string, len(items))
	for i, item := range items {
		reasons[i] = jsonText(item)
	}
	return reasons
}

// jsonText is a JSON string's value, or any other JSON value's text.
func jsonText(raw []byte) string {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	return string(raw)
}
