package npy

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// encode builds an .npy file (format 1.0, header padded to 64 bytes as NumPy does).
func encode(header string, data []byte) []byte {
	pad := 64 - (10+len(header)+1)%64
	header += strings.Repeat(" ", pad%64) + "\n"
	out := append([]byte("\x93NUMPY\x01\x00"), 0, 0)
	binary.LittleEndian.PutUint16(out[8:], uint16(len(header)))
	return append(append(out, header...), data...)
}

func write(t *testing.T, content []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "a.npy")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func float32s(values ...float32) []byte {
	out := make([]byte, 4*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
	}
	return out
}

func TestParseHeader(t *testing.T) {
	b := encode("{'descr': '<U12', 'fortran_order': False, 'shape': (1000000,), }", nil)
	h, err := ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if h.Descr != "<U12" || h.FortranOrder || len(h.Shape) != 1 || h.Shape[0] != 1000000 || h.DataOffset%64 != 0 {
		t.Fatalf("unexpected header %+v", h)
	}
	h, err = ParseHeader(encode("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", nil))
	if err != nil || !h.FortranOrder || h.Len() != 6 {
		t.Fatalf("2-d header: %+v, %v", h, err)
	}
	h, err = ParseHeader(encode("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", nil))
	if err != nil || len(h.Shape) != 0 || h.Len() != 1 {
		t.Fatalf("scalar header: %+v, %v", h, err)
	}
}

func TestParseHeaderRefusesGarbage(t *testing.T) {
	for name, b := range map[string][]byte{
		"magic":     []byte("\x93NUMPX\x01\x00\x10\x00{}"),
		"short":     []byte("\x93NUMPY"),
		"version":   append([]byte("\x93NUMPY\x09\x00"), encode("{}", nil)[8:]...),
		"truncated": encode("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", nil)[:30],
		"no shape":  encode("{'descr': '<f4', 'fortran_order': False, }", nil),
		"bad shape": encode("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", nil),
		"not dict":  encode("descr", nil),
	} {
		if _, err := ParseHeader(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestOpenAndView(t *testing.T) {
	path := write(t, encode("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", float32s(0.5, 1, float32(math.NaN()))))
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	v, err := View[float32](a, "<f4")
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != 3 || v[0] != 0.5 || v[1] != 1 || !math.IsNaN(float64(v[2])) {
		t.Fatalf("view %v", v)
	}
	if _, err := View[int64](a, "<i8"); err == nil {
		t.Fatal("viewed <f4 as <i8")
	}
	if _, err := View[uint8](a, "<f4"); err == nil {
		t.Fatal("viewed 4-byte items as bytes")
	}
}

func TestOpenRefusesMismatchedFiles(t *testing.T) {
	cases := map[string][]byte{
		"truncated data": encode("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", float32s(1, 2)),
		"extra data":     encode("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", float32s(1, 2)),
		"fortran":        encode("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", float32s(1)),
		"big endian":     encode("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", float32s(1)),
		"object":         encode("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", make([]byte, 8)),
	}
	for name, content := range cases {
		if a, err := Open(write(t, content)); err == nil {
			a.Close()
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestStrings(t *testing.T) {
	data := make([]byte, 0, 2*3*4)
	for _, id := range []string{"ab", "été"} {
		runes := []rune(id)
		for i := range 3 {
			var r rune
			if i < len(runes) {
				r = runes[i]
			}
			data = binary.LittleEndian.AppendUint32(data, uint32(r))
		}
	}
	a, err := Open(write(t, encode("{'descr': '<U3', 'fortran_order': False, 'shape': (2,), }", data)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	width, units, err := a.Strings()
	if err != nil || width != 3 || len(units) != 6 {
		t.Fatalf("width %d, %d units, %v", width, len(units), err)
	}
	if got := fmt.Sprint(units); got != "[97 98 0 233 116 233]" {
		t.Fatalf("units %s", got)
	}
}
