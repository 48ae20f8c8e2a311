package scoreset

import (
	"fmt"
	"hash/maphash"
	"math"
	"math/bits"
)

// index maps account ids to rows: open addressing (linear probing, load factor at most 1/2)
// over one UTF-8 buffer holding every id back to back. Unlike a map[string]int32 it holds no
// pointer per key, so the garbage collector never scans a million keys (which took ~30 ms of
// marking per cycle, every few seconds under load, and showed in tail latency).
type index struct {
	buf   []byte   // the ids, UTF-8, back to back
	ends  []uint32 // ends[row] is where row's id ends in buf; it starts where row-1's ends
	slots []uint32 // row+1 per occupied slot, 0 for empty
	mask  uint64
	seed  maphash.Seed
}

// newIndex indexes the ids in buf delimited by ends; a repeated id keeps its first row.
func newIndex(buf []byte, ends []uint32) (*index, error) {
	if len(ends) >= math.MaxUint32/2 {
		return nil, fmt.Errorf("%d ids is more than the index holds", len(ends))
	}
	size := uint64(1) << bits.Len64(uint64(2*len(ends)))
	x := &index{buf: buf, ends: ends, slots: make([]uint32, size), mask: size - 1, seed: maphash.MakeSeed()}
	for row := range ends {
		id := x.id(uint32(row))
		i := maphash.Bytes(x.seed, id) & x.mask
		for ; x.slots[i] != 0; i = (i + 1) & x.mask {
			if string(x.id(x.slots[i]-1)) == string(id) {
				break // repeated id: the first row wins
			}
		}
		if x.slots[i] == 0 {
			x.slots[i] = uint32(row) + 1
		}
	}
	return x, nil
}

func (x *index) id(row uint32) []byte {
	start := uint32(0)
	if row > 0 {
		start = x.ends[row-1]
	}
	return x.buf[start:x.ends[row]]
}

// find returns the row of id, or -1.
func (x *index) find(id string) int {
	for i := maphash.String(x.seed, id) & x.mask; ; i = (i + 1) & x.mask {
		slot := x.slots[i]
		if slot == 0 {
			return -1
		}
		if string(x.id(slot-1)) == id {
			return int(slot - 1)
		}
	}
}
