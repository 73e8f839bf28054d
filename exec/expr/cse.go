package expr

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/streamsql/streamsql/plan"
)

// Shared finds the subexpressions that occur more than once in a set of
// expressions evaluated over the same batches (a Calc's filter and
// projections: q21's LOWER(channel) five times and REGEXP_EXTRACT twice,
// q14's 0.908 * price three times) and computes each of them once a batch.
//
// Evaluators compiled with Options.Shared look the shared subexpressions
// up in it: between Begin(rec) and End, the first evaluation over rec
// keeps its result and the next ones return it. Over any other batch (the
// rows a CASE evaluates again after an error, say) they compute as
// usual, so an evaluator used without Begin behaves as one compiled
// without a Shared. A Shared, and the evaluators compiled with it, serve
// one goroutine: they are not safe for concurrent use.
//
// Only calls, casts and CASEs whose operands are built-in functions of
// the row are shared: a user-defined function's calls are each evaluated,
// as written.
type Shared struct {
	ids   map[plan.Expr]int // node → value number (equal numbers: equal expressions)
	slot  map[int]int       // value number of a repeated subexpression → its slot
	carry []bool            // by slot: the projections read it (see Filter)
	rec   arrow.Record      // the batch of Begin, or the filtered batch
	vals  []arrow.Array     // by slot, computed over rec

	splits map[splitKey]*splitMemo // SPLIT_INDEX calls sharing a split (split.go)

	// Late materialization (see DropUnread). By input column: whether a
	// projection reads it outside a repeated subexpression, and the
	// slots of the repeated subexpressions of the projections that read
	// it.
	nData  int
	direct []bool
	deps   [][]int
	nulls  []arrow.Array // by column, all NULL, what stands for a dropped column
	// When Filter dropped columns of rec: the batch it filtered and the
	// mask, and (once evalOn asked for it) the filtered batch with every
	// column.
	orig arrow.Record
	mask *array.Boolean
	full arrow.Record
}

// NewShared numbers the subexpressions of filter (nil when there is none)
// and of exprs, which are to be evaluated over the same batches, the
// filter first and exprs over the rows that pass it.
func NewShared(filter plan.Expr, exprs ...plan.Expr) *Shared {
	s := &Shared{ids: map[plan.Expr]int{}, slot: map[int]int{}}
	n := &numbering{s: s, keys: map[string]int{}, count: map[int]int{}}
	inProj := map[int]bool{}
	if filter != nil {
		n.count1(filter, nil)
	}
	for _, e := range exprs {
		n.count1(e, inProj)
	}
	for id, c := range n.count {
		if c >= 2 {
			s.slot[id] = len(s.slot)
		}
	}
	s.carry = make([]bool, len(s.slot))
	s.vals = make([]arrow.Array, len(s.slot))
	for id, k := range s.slot {
		s.carry[k] = inProj[id]
	}
	for _, e := range exprs {
		s.reads(e, -1)
	}
	return s
}

// reads records the columns e reads, inside the repeated subexpression
// of slot (or -1).
func (s *Shared) reads(e plan.Expr, slot int) {
	if c, ok := e.(*plan.ColumnRef); ok {
		for len(s.direct) <= c.Index {
			s.direct = append(s.direct, false)
			s.deps = append(s.deps, nil)
		}
		if slot < 0 {
			s.direct[c.Index] = true
		} else {
			s.deps[c.Index] = append(s.deps[c.Index], slot)
		}
		return
	}
	if id, ok := s.ids[e]; slot < 0 && ok && id >= 0 && shareable(e) {
		if k, ok := s.slot[id]; ok {
			slot = k
		}
	}
	for _, o := range operandsOf(e) {
		s.reads(o, slot)
	}
}

// DropUnread lets Filter leave out the first n columns of its batches
// (the data columns of the input) that the projections do not read after
// the filter: a column no projection reads, or one they read only inside
// repeated subexpressions whose values Filter carries. NULLs stand for
// them in the filtered batch. A projection that evaluates part of itself
// again over some of its rows (after an error, see evalOn) reads them from
// the batch with every column.
func (s *Shared) DropUnread(n int) { s.nData = n }

// unread returns the columns of rec that Filter need not copy, by column
// (nil when there is none).
func (s *Shared) unread(rec arrow.Record) []bool {
	n := min(s.nData, int(rec.NumCols()))
	var skip []bool
	for c := 0; c < n; c++ {
		if c < len(s.direct) {
			if s.direct[c] {
				continue
			}
			carried := true
			for _, k := range s.deps[c] {
				carried = carried && rec == s.rec && s.vals[k] != nil && s.carry[k]
			}
			if !carried {
				continue
			}
		}
		if skip == nil {
			skip = make([]bool, n)
		}
		skip[c] = true
	}
	return skip
}

// placeholder returns n NULLs of the type of column c of the batches.
func (s *Shared) placeholder(dt arrow.DataType, c, n int) arrow.Array {
	for len(s.nulls) <= c {
		s.nulls = append(s.nulls, nil)
	}
	a := s.nulls[c]
	if a == nil || a.Len() < n || !arrow.TypeEqual(a.DataType(), dt) {
		if a != nil {
			a.Release()
		}
		a = array.MakeArrayOfNull(heap, dt, max(n, 4096))
		s.nulls[c] = a
	}
	return array.NewSlice(a, 0, int64(n))
}

// whole returns rec with every column: the filtered batch with the
// columns Filter dropped when rec is the batch Filter returned, else rec.
// The result is rec's or s's: the caller does not release it.
func (s *Shared) whole(rec arrow.Record, alloc memory.Allocator) (arrow.Record, error) {
	if s == nil || s.orig == nil || rec != s.rec {
		return rec, nil
	}
	if s.full == nil {
		w, err := Filter(s.orig, s.mask, alloc)
		if err != nil {
			return nil, err
		}
		s.full = w
	}
	return s.full, nil
}

// numbering gives equal expressions equal numbers in time linear in their
// size: a node's key names its operands by their numbers.
type numbering struct {
	s     *Shared
	keys  map[string]int
	count map[int]int // occurrences of shareable subexpressions
}

// shareable is a node worth computing once: a call with operands, a cast
// or a CASE.
func shareable(e plan.Expr) bool {
	switch e := e.(type) {
	case *plan.Call:
		return len(e.Args) > 0
	case *plan.Cast, *plan.Case:
		return true
	}
	return false
}

// count1 numbers e and counts its occurrence. An occurrence of an
// expression already seen does not count its operands again: they are
// computed once, inside it. inProj, when not nil, collects the numbers met.
func (n *numbering) count1(e plan.Expr, inProj map[int]bool) {
	id, ok := n.number(e)
	if !ok {
		// A UDF inside: not shared, but its other operands may be.
		for _, o := range operandsOf(e) {
			n.count1(o, inProj)
		}
		return
	}
	if inProj != nil {
		inProj[id] = true
	}
	if shareable(e) {
		n.count[id]++
		if n.count[id] > 1 {
			// A repeat: computed once, its operands within it. When the
			// projections repeat a value of the filter, the filter carries
			// that value (inProj[id] above), not its operands: nothing
			// after the filter reads them from this occurrence (q21's
			// LOWER(channel), inside the four comparisons the filter
			// carries).
			return
		}
	}
	for _, o := range operandsOf(e) {
		n.count1(o, inProj)
	}
}

func operandsOf(e plan.Expr) []plan.Expr {
	switch e := e.(type) {
	case *plan.Call:
		return e.Args
	case *plan.UDFCall:
		return e.Args
	case *plan.Cast:
		return []plan.Expr{e.Arg}
	case *plan.Case:
		var out []plan.Expr
		for _, w := range e.Whens {
			out = append(out, w.Cond, w.Result)
		}
		if e.Else != nil {
			out = append(out, e.Else)
		}
		return out
	}
	return nil
}

// number returns e's value number; false when e cannot be shared (it
// holds a user-defined function or an expression of an unknown kind).
func (n *numbering) number(e plan.Expr) (int, bool) {
	if id, ok := n.s.ids[e]; ok {
		return id, id >= 0
	}
	var b strings.Builder
	ok := true
	operands := func(es ...plan.Expr) {
		for _, o := range es {
			b.WriteByte(',')
			if o == nil {
				b.WriteString("nil")
				continue
			}
			id, sub := n.number(o)
			ok = ok && sub
			b.WriteString(strconv.Itoa(id))
		}
	}
	switch e := e.(type) {
	case *plan.ColumnRef:
		fmt.Fprintf(&b, "col %d %s", e.Index, e.T)
	case *plan.Literal:
		fmt.Fprintf(&b, "lit %T %#v %s", e.Value, e.Value, e.T)
	case *plan.Call:
		fmt.Fprintf(&b, "call %s %s", funcName(e.Func), e.T)
		operands(e.Args...)
	case *plan.Cast:
		zone := ""
		if e.Zone != nil {
			zone = e.Zone.String()
		}
		fmt.Fprintf(&b, "cast %s %t %q", e.T, e.Safe, zone)
		operands(e.Arg)
	case *plan.Case:
		fmt.Fprintf(&b, "case %s %d", e.T, len(e.Whens))
		for _, w := range e.Whens {
			operands(w.Cond, w.Result)
		}
		operands(e.Else)
	default: // UDFs, and what this does not know
		ok = false
	}
	if !ok {
		n.s.ids[e] = -1
		return -1, false
	}
	k := b.String()
	id, seen := n.keys[k]
	if !seen {
		id = len(n.keys)
		n.keys[k] = id
	}
	n.s.ids[e] = id
	return id, true
}

// wrap returns ev, e compiled, reading and filling e's slot when e is a
// repeated subexpression; nil otherwise. Each occurrence is compiled (the
// same way: the evaluators compiled with a Shared share its input); the
// first evaluated over a batch fills the slot.
func (s *Shared) wrap(e plan.Expr, ev Evaluator) Evaluator {
	if s == nil {
		return nil
	}
	id, ok := s.ids[e]
	if !ok || id < 0 {
		return nil
	}
	k, ok := s.slot[id]
	if !ok {
		return nil
	}
	if _, lit := ev.(*literal); lit {
		return nil
	}
	return &sharedEval{Evaluator: ev, s: s, slot: k}
}

// Begin makes rec the batch whose shared values are kept, until End.
func (s *Shared) Begin(rec arrow.Record) {
	s.End()
	s.rec = rec
}

// End releases the values kept for the batch of Begin.
func (s *Shared) End() {
	for i, a := range s.vals {
		if a != nil {
			a.Release()
			s.vals[i] = nil
		}
	}
	s.rec = nil
	for _, r := range []arrow.Record{s.orig, s.full} {
		if r != nil {
			r.Release()
		}
	}
	if s.mask != nil {
		s.mask.Release()
	}
	s.orig, s.full, s.mask = nil, nil, nil
}

// Filter is expr.Filter of rec, the batch of Begin, by mask; the shared
// values computed over rec that the projections read are filtered with it
// and kept for the result, which becomes the batch of the shared values.
// After DropUnread, the columns the projections do not read are NULL in
// the result. The caller releases the result.
func (s *Shared) Filter(rec arrow.Record, mask *array.Boolean, alloc memory.Allocator) (arrow.Record, error) {
	var keep []int
	if rec == s.rec {
		for k, a := range s.vals {
			if a != nil && s.carry[k] {
				keep = append(keep, k)
			}
		}
	}
	skip := s.unread(rec)
	nc := int(rec.NumCols())
	place := func(c, n int) arrow.Array { return s.placeholder(rec.Column(c).DataType(), c, n) }
	wide := rec
	if len(keep) > 0 {
		fields := append([]arrow.Field(nil), rec.Schema().Fields()...)
		cols := append([]arrow.Array(nil), rec.Columns()...)
		for _, k := range keep {
			fields = append(fields, arrow.Field{Name: fmt.Sprintf("$shared%d", k), Type: s.vals[k].DataType(), Nullable: true})
			cols = append(cols, s.vals[k])
		}
		wide = array.NewRecord(arrow.NewSchema(fields, nil), cols, rec.NumRows())
		defer wide.Release()
	}
	fw, dropped, err := filterCols(wide, mask, alloc, skip, place)
	s.End()
	if err != nil {
		return nil, err
	}
	if dropped {
		rec.Retain()
		mask.Retain()
		s.orig, s.mask = rec, mask
	}
	if len(keep) == 0 {
		s.rec = fw
		return fw, nil
	}
	defer fw.Release()
	out := array.NewRecord(rec.Schema(), fw.Columns()[:nc], fw.NumRows())
	s.rec = out
	for i, k := range keep {
		a := fw.Column(nc + i)
		a.Retain()
		s.vals[k] = a
	}
	return out, nil
}

// sharedEval is the evaluator of a repeated subexpression.
type sharedEval struct {
	Evaluator
	s    *Shared
	slot int
}

func (e *sharedEval) Eval(rec arrow.Record) (arrow.Array, error) {
	if rec != e.s.rec || rec == nil {
		return e.Evaluator.Eval(rec)
	}
	if a := e.s.vals[e.slot]; a != nil {
		a.Retain()
		return a, nil
	}
	a, err := e.Evaluator.Eval(rec)
	if err != nil {
		return nil, err
	}
	a.Retain()
	e.s.vals[e.slot] = a
	return a, nil
}
