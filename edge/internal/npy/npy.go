// Package npy maps NumPy .npy files (format versions 1.0, 2.0 and 3.0) into memory and exposes
// their data as typed slices, after checking the header against what the caller expects.
//
// Only what the score store writes is supported: C-order, little-endian arrays of fixed-size
// items. Anything else (Fortran order, big-endian or object dtypes, a file whose size does not
// match its header) is refused with an error rather than misread.
package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

var magic = []byte("\x93NUMPY")

// Header is the parsed header of an .npy file.
type Header struct {
	// Descr is the NumPy dtype string, e.g. "<f4", "|u1" or "<U12".
	Descr string
	// FortranOrder is true for column-major arrays (always refused by Open).
	FortranOrder bool
	// Shape is the array's shape; empty for a scalar.
	Shape []int
	// DataOffset is where the array's bytes start in the file.
	DataOffset int
}

// Len is the number of items (the product of the shape).
func (h Header) Len() int {
	n := 1
	for _, d := range h.Shape {
		n *= d
	}
	return n
}

var (
	descrRe   = regexp.MustCompile(`'descr':\s*'([^']*)'`)
	fortranRe = regexp.MustCompile(`'fortran_order':\s*(True|False)`)
	shapeRe   = regexp.MustCompile(`'shape':\s*\(([0-9,\s]*)\)`)
)

// ParseHeader parses the header at the start of an .npy file's bytes.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < 10 || !bytes.Equal(b[:6], magic) {
		return Header{}, errors.New("not an .npy file (bad magic)")
	}
	major := b[6]
	var size, start int
	switch major {
	case 1:
		size, start = int(binary.LittleEndian.Uint16(b[8:10])), 10
	case 2, 3:
		if len(b) < 12 {
			return Header{}, errors.New("truncated .npy header")
		}
		size, start = int(binary.LittleEndian.Uint32(b[8:12])), 12
	default:
		return Header{}, fmt.Errorf("unsupported .npy format version %d.%d", major, b[7])
	}
	if start+size > len(b) {
		return Header{}, errors.New("truncated .npy header")
	}
	text := strings.TrimSpace(string(b[start : start+size]))
	if !strings.HasPrefix(text, "{") || !strings.HasSuffix(text, "}") {
		return Header{}, fmt.Errorf("malformed .npy header %q", text)
	}
	descr, fortran, shape := descrRe.FindStringSubmatch(text), fortranRe.FindStringSubmatch(text), shapeRe.FindStringSubmatch(text)
	if descr == nil || fortran == nil || shape == nil {
		return Header{}, fmt.Errorf("malformed .npy header %q", text)
	}
	h := Header{Descr: descr[1], FortranOrder: fortran[1] == "True", DataOffset: start + size}
	for _, dim := range strings.Split(shape[1], ",") {
		dim = strings.TrimSpace(dim)
		if dim == "" {
			continue
		}
		n, err := strconv.Atoi(dim)
		if err != nil || n < 0 {
			return Header{}, fmt.Errorf("malformed .npy shape %q", shape[1])
		}
		h.Shape = append(h.Shape, n)
	}
	return h, nil
}

// ItemSize is the size in bytes of one item of a supported dtype.
func ItemSize(descr string) (int, error) {
	switch descr {
	case "|u1", "<u1", "|i1", "<i1", "|b1":
		return 1, nil
	case "<f4", "<i4", "<u4":
		return 4, nil
	case "<f8", "<i8", "<u8":
		return 8, nil
	}
	if w, ok := strings.CutPrefix(descr, "<U"); ok {
		if n, err := strconv.Atoi(w); err == nil && n > 0 {
			return 4 * n, nil
		}
	}
	return 0, fmt.Errorf("unsupported dtype %q", descr)
}

// Array is a memory-mapped .npy file. Its slices stay valid until Close.
type Array struct {
	Header
	// Data holds the array's bytes (read-only: writing to it faults).
	Data    []byte
	mapping []byte
}

// Open maps path read-only and checks its header: C order, a supported dtype, and exactly
// as many data bytes as the shape says.
func Open(path string) (*Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size < 10 || size != int64(int(size)) {
		return nil, fmt.Errorf("%s: %d bytes is not an .npy file", path, size)
	}
	mapping, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("%s: mmap: %w", path, err)
	}
	a, err := fromMapping(mapping)
	if err != nil {
		_ = syscall.Munmap(mapping)
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

func fromMapping(mapping []byte) (*Array, error) {
	h, err := ParseHeader(mapping)
	if err != nil {
		return nil, err
	}
	if h.FortranOrder {
		return nil, errors.New("Fortran-order arrays are not supported")
	}
	item, err := ItemSize(h.Descr)
	if err != nil {
		return nil, err
	}
	if want := h.Len() * item; len(mapping)-h.DataOffset != want {
		return nil, fmt.Errorf("%d data bytes, header says %d (shape %v of %s): truncated or padded file",
			len(mapping)-h.DataOffset, want, h.Shape, h.Descr)
	}
	if h.DataOffset%8 != 0 {
		return nil, fmt.Errorf("data offset %d is not 8-byte aligned", h.DataOffset)
	}
	return &Array{Header: h, Data: mapping[h.DataOffset:], mapping: mapping}, nil
}

// Close unmaps the file; the array's slices must not be used afterwards.
func (a *Array) Close() error {
	if a.mapping == nil {
		return nil
	}
	err := syscall.Munmap(a.mapping)
	a.mapping, a.Data = nil, nil
	return err
}

// Vector checks that a is one-dimensional with dtype descr and returns its length.
func (a *Array) Vector(descr string) (int, error) {
	if a.Descr != descr {
		return 0, fmt.Errorf("dtype %s, expected %s", a.Descr, descr)
	}
	if len(a.Shape) != 1 {
		return 0, fmt.Errorf("shape %v, expected one dimension", a.Shape)
	}
	return a.Shape[0], nil
}

// Item is a fixed-size element type an .npy vector can be viewed as.
type Item interface {
	~uint8 | ~int64 | ~float32 | ~uint32
}

// View returns the one-dimensional array's data as a []T, checking the dtype is descr and
// that T's size matches it.
func View[T Item](a *Array, descr string) ([]T, error) {
	n, err := a.Vector(descr)
	if err != nil {
		return nil, err
	}
	var zero T
	if item, _ := ItemSize(descr); item != int(unsafe.Sizeof(zero)) {
		return nil, fmt.Errorf("dtype %s does not have %d-byte items", descr, unsafe.Sizeof(zero))
	}
	if n == 0 {
		return []T{}, nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&a.Data[0])), n), nil
}

// Strings returns the width (in code points) of a one-dimensional "<U{w}" array and its
// data as UTF-32 code units, w per item (NumPy pads shorter strings with zeros).
func (a *Array) Strings() (width int, units []uint32, err error) {
	w, ok := strings.CutPrefix(a.Descr, "<U")
	if !ok {
		return 0, nil, fmt.Errorf("dtype %s, expected <U<width>", a.Descr)
	}
	width, err = strconv.Atoi(w)
	if err != nil || width <= 0 {
		return 0, nil, fmt.Errorf("dtype %s, expected <U<width>", a.Descr)
	}
	if len(a.Shape) != 1 {
		return 0, nil, fmt.Errorf("shape %v, expected one dimension", a.Shape)
	}
	if len(a.Data) == 0 {
		return width, []uint32{}, nil
	}
	return width, unsafe.Slice((*uint32)(unsafe.Pointer(&a.Data[0])), len(a.Data)/4), nil
}
