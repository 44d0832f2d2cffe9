package imports

import (
	"bytes"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
)

// keyIndex finds the rows of a file that share a login identifier by a
// compact key of each value (128 bits of its hash, which no two values of
// a file share by chance), so that a file's rows need not all be held to
// find them: a first pass adds every row, then the index is sealed, and a
// second pass applies it to each row as it comes. Sorted keys take 20
// bytes a value, less than a map's.
type keyIndex struct {
	keys [len(loginKeys)][]keyRow
}

type keyRow struct {
	key [16]byte
	row int32
}

// newKeyIndex returns an index with room for rows rows.
func newKeyIndex(rows int) *keyIndex {
	x := &keyIndex{}
	x.keys[0] = make([]keyRow, 0, rows) // nearly every row has an email
	return x
}

func keyOf(v string) [16]byte {
	h := fnv.New128a()
	h.Write([]byte(v))
	var k [16]byte
	h.Sum(k[:0])
	return k
}

// add records r's identifiers; rows come in their order.
func (x *keyIndex) add(r *row) {
	for k, v := range r.ids {
		if v != "" {
			x.keys[k] = append(x.keys[k], keyRow{keyOf(v), int32(r.res.Row)})
		}
	}
}

// seal orders the keys, each value's rows in their order, for apply.
func (x *keyIndex) seal() {
	for k := range x.keys {
		slices.SortStableFunc(x.keys[k], func(a, b keyRow) int { return bytes.Compare(a.key[:], b.key[:]) })
	}
}

// apply refuses r if another row shares one of its identifiers, naming
// the first row with it, or, for that first row, the others.
func (x *keyIndex) apply(f *file, r *row) {
	for k, v := range r.ids {
		if v == "" {
			continue
		}
		key, keys := keyOf(v), x.keys[k]
		i, _ := slices.BinarySearchFunc(keys, key, func(e keyRow, key [16]byte) int { return bytes.Compare(e.key[:], key[:]) })
		c := columnFor(loginKeys[k])
		if first := int(keys[i].row); first != r.res.Row {
			f.problem(r, c, "already used by another person in this file, row %d", first)
			continue
		}
		var later []string
		for j := i + 1; j < len(keys) && keys[j].key == key; j++ {
			later = append(later, strconv.Itoa(int(keys[j].row)))
		}
		if len(later) > 0 {
			f.problem(r, c, "also used by another person in this file, row %s", strings.Join(later, ", "))
		}
	}
}
