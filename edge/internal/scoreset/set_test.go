package scoreset

import (
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// npyFile encodes a one-dimensional .npy file as NumPy's np.save writes it.
func npyFile(descr string, n int, data []byte) []byte {
	header := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%d,), }", descr, n)
	header += strings.Repeat(" ", (64-(10+len(header)+1)%64)%64) + "\n"
	out := append([]byte("\x93NUMPY\x01\x00"), 0, 0)
	binary.LittleEndian.PutUint16(out[8:], uint16(len(header)))
	return append(append(out, header...), data...)
}

type account struct {
	id      string
	risk    float32
	level   uint8
	ring    string
	reasons string
}

// writeSet writes the cache layout of services/score_store.py into a new directory.
func writeSet(t *testing.T, accounts []account) string {
	t.Helper()
	width := 1
	for _, a := range accounts {
		width = max(width, len([]rune(a.id)))
	}
	var ids, risk, level, ringOff, ringData, reasonsOff, reasonsData []byte
	ringOff = binary.LittleEndian.AppendUint64(ringOff, 0)
	reasonsOff = binary.LittleEndian.AppendUint64(reasonsOff, 0)
	for _, a := range accounts {
		runes := []rune(a.id)
		for i := range width {
			var r rune
			if i < len(runes) {
				r = runes[i]
			}
			ids = binary.LittleEndian.AppendUint32(ids, uint32(r))
		}
		risk = binary.LittleEndian.AppendUint32(risk, math.Float32bits(a.risk))
		level = append(level, a.level)
		ringData = append(ringData, a.ring...)
		ringOff = binary.LittleEndian.AppendUint64(ringOff, uint64(len(ringData)))
		reasonsData = append(reasonsData, a.reasons...)
		reasonsOff = binary.LittleEndian.AppendUint64(reasonsOff, uint64(len(reasonsData)))
	}
	n := len(accounts)
	dir := t.TempDir()
	for name, content := range map[string][]byte{
		"ids":             npyFile(fmt.Sprintf("<U%d", width), n, ids),
		"risk":            npyFile("<f4", n, risk),
		"level":           npyFile("|u1", n, level),
		"ring_offsets":    npyFile("<i8", n+1, ringOff),
		"ring_data":       npyFile("|u1", len(ringData), ringData),
		"reasons_offsets": npyFile("<i8", n+1, reasonsOff),
		"reasons_data":    npyFile("|u1", len(reasonsData), reasonsData),
	} {
		if err := os.WriteFile(filepath.Join(dir, name+".npy"), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var sample = []account{
	{"acct_1", 0.1, 1, "", `["one reason"]`},
	{"acct_2", 0.95, 4, "ring_7", `["shares device d1", "lockstep likes"]`},
	{"ünï", 0.5, 2, "", ``},
	{"acct_2", 0.2, 1, "", `not json`},
}

func TestLoadAndLookups(t *testing.T) {
	s, err := Load(writeSet(t, sample), Info{ScoreVersion: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 4 || s.Info.Accounts != 4 {
		t.Fatalf("%d rows", s.Len())
	}
	row := s.Find("acct_2")
	if row != 1 {
		t.Fatalf("acct_2 at row %d; a repeated id answers its first row", row)
	}
	if s.Risk(row) != 0.95 || s.Level(row) != 4 || s.RingID(row) != "ring_7" {
		t.Fatalf("row 1: %v %v %q", s.Risk(row), s.Level(row), s.RingID(row))
	}
	if got := s.Reasons(row); len(got) != 2 || got[1] != "lockstep likes" {
		t.Fatalf("reasons %q", got)
	}
	if row := s.Find("ünï"); row != 2 || s.Reasons(row) != nil || s.RingID(row) != "" {
		t.Fatalf("ünï: row %d", row)
	}
	if got := s.Reasons(3); len(got) != 1 || got[0] != "not json" {
		t.Fatalf("text that is not JSON is one reason, got %q", got)
	}
	if s.Find("acct_3") != -1 || s.Find("") != -1 {
		t.Fatal("found an unknown id")
	}
}

func TestLoadRefusesBadSets(t *testing.T) {
	corruptions := map[string]func(dir string){
		"missing column": func(dir string) { os.Remove(filepath.Join(dir, "level.npy")) },
		"wrong dtype": func(dir string) {
			os.WriteFile(filepath.Join(dir, "risk.npy"), npyFile("<f8", 2, make([]byte, 16)), 0o644)
		},
		"short column": func(dir string) {
			os.WriteFile(filepath.Join(dir, "risk.npy"), npyFile("<f4", 3, make([]byte, 12)), 0o644)
		},
		"bad level": func(dir string) {
			os.WriteFile(filepath.Join(dir, "level.npy"), npyFile("|u1", 4, []byte{1, 9, 1, 1}), 0o644)
		},
		"truncated file": func(dir string) {
			path := filepath.Join(dir, "ids.npy")
			data, _ := os.ReadFile(path)
			os.WriteFile(path, data[:len(data)-3], 0o644)
		},
		"offsets past the data": func(dir string) {
			off := make([]byte, 0, 40)
			for _, v := range []uint64{0, 0, 50, 50, 50} {
				off = binary.LittleEndian.AppendUint64(off, v)
			}
			os.WriteFile(filepath.Join(dir, "ring_offsets.npy"), npyFile("<i8", 5, off), 0o644)
		},
	}
	for name, corrupt := range corruptions {
		dir := writeSet(t, sample)
		corrupt(dir)
		if _, err := Load(dir, Info{ScoreVersion: "v1"}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := Load(writeSet(t, sample), Info{ScoreVersion: "v1", Accounts: 5}); err == nil {
		t.Error("accepted a set whose size differs from the pointer's")
	}
}

func TestValidID(t *testing.T) {
	valid := []string{"a", "acct 1", "ünï", "账户", strings.Repeat("x", 128), strings.Repeat("é", 128)}
	invalid := []string{"", strings.Repeat("x", 129), "a\nb", "tab\t", "\x00", "zero\u200bwidth", "\xff", "line\u2028sep", "nbsp\u00a0"}
	for _, id := range valid {
		if !ValidID(id) {
			t.Errorf("%q refused", id)
		}
	}
	for _, id := range invalid {
		if ValidID(id) {
			t.Errorf("%q accepted", id)
		}
	}
}

func TestStoreSwapsAndRefuses(t *testing.T) {
	pointer := filepath.Join(t.TempDir(), "SERVING.json")
	store := NewStore(pointer, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if store.Refresh() || store.Current() != nil {
		t.Fatal("loaded something without a pointer file")
	}
	point := func(dir, version string) {
		text := fmt.Sprintf(`{"cache_dir": %q, "score_version": %q, "model_version": "m", "snapshot_version": "s", "scored_at": "2025-01-02T03:04:05+00:00"}`, dir, version)
		if err := os.WriteFile(pointer, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var swaps []string
	store.OnSwap(func(_, fresh *Set) { swaps = append(swaps, fresh.Info.ScoreVersion) })
	point(writeSet(t, sample), "v1")
	if !store.Refresh() || store.Current().Info.ScoreVersion != "v1" {
		t.Fatal("v1 not loaded")
	}
	if want := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC); !store.Current().Info.ScoredAt.Equal(want) {
		t.Fatalf("scored_at %v", store.Current().Info.ScoredAt)
	}
	if store.Refresh() {
		t.Fatal("reloaded an unchanged pointer")
	}
	bad := writeSet(t, sample)
	os.Remove(filepath.Join(bad, "risk.npy"))
	point(bad, "v2")
	if store.Refresh() || store.Current().Info.ScoreVersion != "v1" || store.LastError() == nil {
		t.Fatal("a broken v2 replaced v1")
	}
	point(writeSet(t, sample[:2]), "v3")
	if !store.Refresh() || store.Current().Info.ScoreVersion != "v3" || store.Current().Len() != 2 || store.LastError() != nil {
		t.Fatal("v3 not loaded after a refused v2")
	}
	if fmt.Sprint(swaps) != "[v1 v3]" {
		t.Fatalf("swaps %v", swaps)
	}
}

func TestStoreCarriesTheSetsWarnings(t *testing.T) {
	pointer := filepath.Join(t.TempDir(), "SERVING.json")
	store := NewStore(pointer, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, c := range []struct {
		version, warnings string
		want              []string
	}{
		{"v1", ``, nil}, // a pointer from before warnings were written
		{"v2", `, "warnings": []`, []string{}},
		{"v3", `, "warnings": ["31.0% of the accounts are at MEDIUM or above against 9.8%"]`,
			[]string{"31.0% of the accounts are at MEDIUM or above against 9.8%"}},
	} {
		text := fmt.Sprintf(`{"cache_dir": %q, "score_version": %q, "model_version": "m", "snapshot_version": "s"%s}`,
			writeSet(t, sample), c.version, c.warnings)
		if err := os.WriteFile(pointer, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if !store.Refresh() {
			t.Fatalf("%s not loaded: %v", c.version, store.LastError())
		}
		if got := store.Current().Info.Warnings; fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: warnings %q, want %q", c.version, got, c.want)
		}
	}
}

func TestIndexFindsEveryID(t *testing.T) {
	var buf []byte
	var ends []uint32
	for i := range 10_000 {
		buf = fmt.Appendf(buf, "acct_%d", i*7919%10_000)
		ends = append(ends, uint32(len(buf)))
	}
	buf = append(buf, "acct_5"...) // a repeated id: its first row wins
	ends = append(ends, uint32(len(buf)))
	x, err := newIndex(buf, ends)
	if err != nil {
		t.Fatal(err)
	}
	for row := range 10_000 {
		if got := x.find(string(x.id(uint32(row)))); got != row {
			t.Fatalf("row %d found at %d", row, got)
		}
	}
	if first := x.find("acct_5"); first == 10_000 {
		t.Fatal("the repeated id answered its last row")
	}
	for _, id := range []string{"", "acct_", "acct_10000", "acct_5 ", "x"} {
		if x.find(id) != -1 {
			t.Errorf("found %q", id)
		}
	}
}
