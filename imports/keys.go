package imports

import (
	"hash/fnv"
	"strconv"
	"strings"
)

// keyIndex finds the rows of a file that share a login identifier by a
// compact key of each value (128 bits of its hash, which no two values of
// a file share by chance), so that a file's rows need not all be held to
// find them: a first pass adds every row, a second applies the index to
// each row as it comes.
type keyIndex struct {
	first [len(loginKeys)]map[[16]byte]int32 // a value's first row
	later [len(loginKeys)]map[int32][]int32  // a first row's later rows with its value
}

func newKeyIndex() *keyIndex {
	x := &keyIndex{}
	for k := range loginKeys {
		x.first[k] = map[[16]byte]int32{}
		x.later[k] = map[int32][]int32{}
	}
	return x
}

func keyOf(v string) [16]byte {
	h := fnv.New128a()
	h.Write([]byte(v))
	var k [16]byte
	h.Sum(k[:0])
	return k
}

// add records r's identifiers.
func (x *keyIndex) add(r *row) {
	num := int32(r.res.Row)
	for k, v := range r.ids {
		if v == "" {
			continue
		}
		key := keyOf(v)
		if first, ok := x.first[k][key]; ok {
			x.later[k][first] = append(x.later[k][first], num)
			continue
		}
		x.first[k][key] = num
	}
}

// apply refuses r if another row shares one of its identifiers, naming
// the first row with it, or, for that first row, the others.
func (x *keyIndex) apply(f *file, r *row) {
	num := int32(r.res.Row)
	for k, v := range r.ids {
		if v == "" {
			continue
		}
		c := columnFor(loginKeys[k])
		first := x.first[k][keyOf(v)]
		if first != num {
			f.problem(r, c, "already used by another person in this file, row %d", first)
			continue
		}
		if later := x.later[k][num]; len(later) > 0 {
			rows := make([]string, len(later))
			for i, n := range later {
				rows[i] = strconv.Itoa(int(n))
			}
			f.problem(r, c, "also used by another person in this file, row %s", strings.Join(rows, ", "))
		}
	}
}
