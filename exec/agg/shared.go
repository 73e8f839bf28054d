package agg

import (
	"encoding/binary"
	"slices"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// Calls are the accumulators of an aggregation's calls, folded together:
// the COUNT(DISTINCT x) calls over the same column x (typically under
// different FILTERs, as in Nexmark q15 and q16) share one counted multiset
// per slot, value → one count per call, as Flink's DistinctAggregate shares
// a MapView between the distinct aggregates of one column. A row then
// costs one lookup of its value for all of them, instead of one per call.
// Each call still has its own Accumulator (its result, and its state,
// encoded as an unshared COUNT(DISTINCT x) encodes it).
type Calls struct {
	accs  []Accumulator
	steps []step
}

// step folds one call (shared nil) or the calls of a shared multiset.
type step struct {
	call   int
	shared jointFolder
	calls  []int
}

// jointFolder folds the rows of rec into the calls sharing a multiset:
// slots[m] is member m's slots (see Accumulator; nil: none), the rows
// retracted those of kinds that are retractions, or all when neg.
type jointFolder interface {
	foldAll(rec arrow.Record, slots [][]int32, kinds *array.Int8, neg bool) error
}

// NewCalls returns the accumulators of calls over rows of schema in (see
// New).
func NewCalls(calls []plan.AggCall, in types.Schema) (*Calls, error) {
	return newCalls(calls, in, false)
}

// NewCallsAppendOnly is NewCalls for an input without retractions: MIN
// and MAX keep their running extreme alone (extremeAcc), in the state
// encoding of NewCalls' MIN and MAX, and the COUNT(DISTINCT x) calls over
// an integer column x share a set of values with a bitmask of the calls
// that saw each (bitDistinct); a retraction is an error
// (ErrRetractAppendOnly).
func NewCallsAppendOnly(calls []plan.AggCall, in types.Schema) (*Calls, error) {
	return newCalls(calls, in, true)
}

func newCalls(calls []plan.AggCall, in types.Schema, appendOnly bool) (*Calls, error) {
	c := &Calls{accs: make([]Accumulator, len(calls))}
	byCol := map[int][]int{} // COUNT(DISTINCT x) calls by x
	for i, call := range calls {
		if call.Func == plan.Count && call.Distinct && call.Arg >= 0 && call.Arg < in.Len() {
			if _, ok := domainOf(in.Fields[call.Arg].Type); ok {
				byCol[call.Arg] = append(byCol[call.Arg], i)
			}
		}
	}
	done := make([]bool, len(calls))
	for i, call := range calls {
		if done[i] {
			continue
		}
		members := byCol[call.Arg]
		d, _ := domainOf(argType(call, in))
		bitsOK := appendOnly && d == dInt && len(members) <= maxBitMembers
		if call.Func == plan.Count && call.Distinct && len(members) > 0 && (len(members) > 1 || bitsOK) {
			var j jointFolder
			var accs []Accumulator
			if bitsOK {
				j, accs = newBitDistinct(call.Arg, len(members))
			} else {
				j, accs = newSharedDistinct(call.Arg, in.Fields[call.Arg].Type, len(members))
			}
			for m, ci := range members {
				c.accs[ci], done[ci] = accs[m], true
			}
			c.steps = append(c.steps, step{call: i, shared: j, calls: members})
			continue
		}
		var a Accumulator
		if d, ok := domainOf(argType(call, in)); appendOnly && ok && (call.Func == plan.Min || call.Func == plan.Max) {
			a = newExtreme(call.Arg, d, call.Func == plan.Max, int32(in.Fields[call.Arg].Type.Scale))
		} else {
			var err error
			if a, err = New(call, in); err != nil {
				return nil, err
			}
		}
		c.accs[i], done[i] = a, true
		c.steps = append(c.steps, step{call: i})
	}
	return c, nil
}

// Accumulators returns the accumulator of each call, in the calls' order.
func (c *Calls) Accumulators() []Accumulator { return c.accs }

// Update folds the rows of rec into every call as Update does: slots[i]
// is call i's slots. On an error it returns the index of the call that
// failed.
func (c *Calls) Update(rec arrow.Record, slots [][]int32, kinds *array.Int8, scratch *[]int32, joint *[][]int32) (int, error) {
	for _, st := range c.steps {
		if st.shared == nil {
			if err := Update(c.accs[st.call], rec, slots[st.call], kinds, scratch); err != nil {
				return st.call, err
			}
			continue
		}
		*joint = (*joint)[:0]
		for _, ci := range st.calls {
			*joint = append(*joint, slots[ci])
		}
		if err := st.shared.foldAll(rec, *joint, kinds, false); err != nil {
			return st.call, err
		}
	}
	return 0, nil
}

// sharedDistinct is the multiset of k COUNT(DISTINCT x) calls over one
// column: per slot, value → entry, entry e's count for member m at
// cnt[e*k+m] (negative after retractions of values never added). An entry
// whose counts are all 0 is removed.
type sharedDistinct[T comparable] struct {
	col     int
	k       int
	ops     valueOps[T]
	scratch []T
	sets    []distinctSet[T] // per slot; nil: empty
	newSet  func() distinctSet[T]
	zeroes  []T // clearMember's scratch
	cnt     []int64
	free    []int32
	n       [][]int64 // per member, per slot: the values counted > 0
}

func newSharedDistinct(col int, t types.Type, k int) (jointFolder, []Accumulator) {
	d, _ := domainOf(t)
	switch d {
	case dInt:
		return newSharedOf(col, k, intOps(), newIntSet)
	case dFloat:
		return newSharedOf(col, k, floatOps(), newMapSet[float64])
	case dDecimal:
		return newSharedOf(col, k, decimalOps(int32(t.Scale)), newMapSet[decimal128.Num])
	}
	return newSharedOf(col, k, stringOps(), newMapSet[string])
}

func newSharedOf[T comparable](col, k int, ops valueOps[T], newSet func() distinctSet[T]) (jointFolder, []Accumulator) {
	sd := &sharedDistinct[T]{col: col, k: k, ops: ops, n: make([][]int64, k), newSet: newSet}
	accs := make([]Accumulator, k)
	for m := range accs {
		accs[m] = &sharedMember[T]{sd: sd, m: m}
	}
	return sd, accs
}

func (sd *sharedDistinct[T]) grow(n int) {
	sd.sets = grow(sd.sets, n)
	for m := range sd.n {
		sd.n[m] = grow(sd.n[m], n)
	}
}

// entry returns the entry of x in slot s's set, added (counts 0) when
// absent.
func (sd *sharedDistinct[T]) entry(s int32, x T) int32 {
	set := sd.sets[s]
	if set == nil {
		set = sd.newSet()
		sd.sets[s] = set
	}
	if e, ok := set.get(x); ok {
		return e
	}
	var e int32
	if n := len(sd.free); n > 0 {
		e, sd.free = sd.free[n-1], sd.free[:n-1]
	} else {
		e = int32(len(sd.cnt) / sd.k)
		sd.cnt = append(sd.cnt, make([]int64, sd.k)...)
	}
	set.put(sd.ops.keep(x), e)
	return e
}

// drop removes x's entry e from slot s's set when all its counts are 0.
func (sd *sharedDistinct[T]) drop(s int32, x T, e int32) {
	for _, c := range sd.cnt[int(e)*sd.k : int(e+1)*sd.k] {
		if c != 0 {
			return
		}
	}
	set := sd.sets[s]
	set.del(x)
	sd.free = append(sd.free, e)
	if set.size() == 0 {
		sd.sets[s] = nil
	}
}

// add adds d to member m's count of entry e of slot s.
func (sd *sharedDistinct[T]) add(s, e int32, m int, d int64) {
	c := &sd.cnt[int(e)*sd.k+m]
	before := *c
	*c += d
	if (before > 0) != (*c > 0) {
		if *c > 0 {
			sd.n[m][s]++
		} else {
			sd.n[m][s]--
		}
	}
}

func (sd *sharedDistinct[T]) foldAll(rec arrow.Record, slots [][]int32, kinds *array.Int8, neg bool) error {
	arr := rec.Column(sd.col)
	n := arr.Len()
	v := sd.ops.vals(arr, &sd.scratch)[:n]
	nulls := arr.NullN() > 0
	for i := range n {
		s := int32(-1)
		for _, sl := range slots {
			if sl != nil && sl[i] >= 0 {
				s = sl[i]
				break
			}
		}
		if s < 0 || nulls && arr.IsNull(i) {
			continue
		}
		d := int64(1)
		if neg || kinds != nil && types.RowKind(kinds.Value(i)).IsRetraction() {
			d = -1
		}
		x := v[i]
		e := sd.entry(s, x)
		for m, sl := range slots {
			if sl != nil && sl[i] >= 0 {
				sd.add(s, e, m, d)
			}
		}
		sd.drop(s, x, e)
	}
	return nil
}

// clearMember sets member m's counts of slot s to 0.
func (sd *sharedDistinct[T]) clearMember(s int32, m int) {
	sd.n[m][s] = 0
	set := sd.sets[s]
	if set == nil {
		return
	}
	// The entries left without counts are dropped after the walk: a
	// deletion may move entries of an intSet.
	sd.zeroes = sd.zeroes[:0]
	set.each(func(x T, e int32) {
		sd.cnt[int(e)*sd.k+m] = 0
		if !slices.ContainsFunc(sd.cnt[int(e)*sd.k:int(e+1)*sd.k], func(c int64) bool { return c != 0 }) {
			sd.zeroes = append(sd.zeroes, x)
		}
	})
	for _, x := range sd.zeroes {
		e, _ := set.get(x)
		sd.drop(s, x, e)
	}
	clear(sd.zeroes)
}

// sharedMember is member m of a sharedDistinct: one COUNT(DISTINCT x)
// call.
type sharedMember[T comparable] struct {
	sd *sharedDistinct[T]
	m  int
}

var _ Accumulator = (*sharedMember[int64])(nil)

func (a *sharedMember[T]) Grow(n int) { a.sd.grow(n) }

func (a *sharedMember[T]) Reset(s int32) { a.sd.clearMember(s, a.m) }

// fold folds rows of rec into this member alone.
func (a *sharedMember[T]) fold(rec arrow.Record, slots []int32, neg bool) {
	all := make([][]int32, a.sd.k)
	all[a.m] = slots
	_ = a.sd.foldAll(rec, all, nil, neg) // never fails
}

// Add implements Accumulator.
func (a *sharedMember[T]) Add(rec arrow.Record, slots []int32) error {
	a.fold(rec, slots, false)
	return nil
}

// Retract implements Accumulator.
func (a *sharedMember[T]) Retract(rec arrow.Record, slots []int32) error {
	a.fold(rec, slots, true)
	return nil
}

// AppendResult implements Accumulator.
func (a *sharedMember[T]) AppendResult(b array.Builder, s int32) { appendInt(b, a.sd.n[a.m][s]) }

// Encode implements Accumulator: as an unshared COUNT(DISTINCT x) encodes
// (the multiset's encode), the values member m counts ≠ 0.
func (a *sharedMember[T]) Encode(buf []byte, s int32) []byte {
	sd := a.sd
	set := sd.sets[s]
	var vs []T
	if set != nil {
		vs = make([]T, 0, set.size())
		set.each(func(v T, e int32) {
			if sd.cnt[int(e)*sd.k+a.m] != 0 {
				vs = append(vs, v)
			}
		})
	}
	slices.SortFunc(vs, sd.ops.cmp)
	buf = binary.AppendUvarint(buf, uint64(len(vs)))
	for _, v := range vs {
		e, _ := set.get(v)
		buf = encInt(sd.ops.enc(buf, v), sd.cnt[int(e)*sd.k+a.m])
	}
	return buf
}

// Decode implements Accumulator.
func (a *sharedMember[T]) Decode(buf []byte, s int32) ([]byte, error) {
	sd := a.sd
	sd.clearMember(s, a.m)
	n, k := binary.Uvarint(buf)
	if k <= 0 || n > uint64(len(buf)) {
		return nil, ErrCorrupt
	}
	buf = buf[k:]
	for range n {
		v, rest, err := sd.ops.dec(buf)
		if err != nil {
			return nil, err
		}
		c, rest, err := decInt(rest)
		if err != nil || c == 0 {
			return nil, ErrCorrupt
		}
		e := sd.entry(s, v)
		if sd.cnt[int(e)*sd.k+a.m] != 0 {
			return nil, ErrCorrupt // a value twice
		}
		sd.add(s, e, a.m, c)
		buf = rest
	}
	return buf, nil
}

// argType is the type of call's argument column, or the zero Type when it
// has none or it is out of range (New reports that).
func argType(call plan.AggCall, in types.Schema) types.Type {
	if call.Arg < 0 || call.Arg >= in.Len() {
		return types.Type{}
	}
	return in.Fields[call.Arg].Type
}
