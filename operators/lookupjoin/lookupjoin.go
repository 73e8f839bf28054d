// Package lookupjoin is the operator of plan.LookupJoin, the
// processing-time lookup join (Flink's LookupJoinRunner): each batch's
// keys are looked up in one call to the table's connectors.LookupSource
// (which caches as its table's options say), and each row is joined with
// the rows returned for its key that satisfy the residual condition; in a
// LEFT join a row without any is emitted padded with NULLs. A row whose
// key has a NULL matches nothing. Rows keep their kind (+I, -U, +U, -D),
// so the output is append-only over an append-only input. The operator
// holds no checkpointed state: what the lookups return is not replayable
// (processing time), as in Flink.
package lookupjoin

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/exec/expr"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// Lookups builds lookup sources; the connectors registry implements it.
type Lookups interface {
	NewLookup(connector string, cfg connectors.LookupConfig) (connectors.LookupSource, error)
}

type op struct {
	exec.Stateless
	n        *plan.LookupJoin
	m        *exec.OperatorMetrics
	alloc    memory.Allocator
	lookups  Lookups
	clock    exec.Clock
	src      connectors.LookupSource
	residual expr.Evaluator
	outArrow *arrow.Schema
	nIn      int
}

var _ exec.Operator = (*op)(nil)

// New builds the operator of n; env.Connectors must implement Lookups.
func New(n *plan.LookupJoin, env exec.OperatorEnv) (exec.Operator, error) {
	l, ok := env.Connectors.(Lookups)
	if !ok {
		return nil, fmt.Errorf("lookup join: %q: the job's connectors (%T) cannot build lookup sources", n.ID(), env.Connectors)
	}
	return NewWith(n, env, l)
}

// NewWith builds the operator of n reading the table through lookups.
func NewWith(n *plan.LookupJoin, env exec.OperatorEnv, lookups Lookups) (exec.Operator, error) {
	if len(n.InputKeys) == 0 || len(n.InputKeys) != len(n.TableKeys) {
		return nil, fmt.Errorf("lookup join: %q: %d input and %d table key columns", n.ID(), len(n.InputKeys), len(n.TableKeys))
	}
	o := &op{n: n, m: env.Metrics, alloc: env.Alloc, lookups: lookups, clock: env.Clock,
		outArrow: n.Schema().Arrow(), nIn: n.Input.Schema().Len()}
	if o.m == nil {
		o.m = &exec.OperatorMetrics{}
	}
	if o.alloc == nil {
		o.alloc = memory.DefaultAllocator
	}
	if n.Residual != nil {
		var err error
		if o.residual, err = expr.Compile(n.Residual, n.Schema(), o.alloc); err != nil {
			return nil, fmt.Errorf("lookup join: %q: residual condition: %w", n.ID(), err)
		}
	}
	return o, nil
}

// Open implements exec.Operator: it builds the lookup source (which
// connects or loads on its first lookup).
func (o *op) Open(context.Context, checkpoint.StateReader) error {
	src, err := o.lookups.NewLookup(o.n.Connector, connectors.LookupConfig{Table: o.n.Table, Schema: o.n.TableSchema,
		Options: o.n.Options, KeyColumns: o.n.TableKeys, Clock: o.clock, Zone: o.n.Zone})
	if err != nil {
		return fmt.Errorf("lookup join: %q: %w", o.n.ID(), err)
	}
	o.src = src
	return nil
}

// Close implements exec.Operator.
func (o *op) Close() error {
	if o.src == nil {
		return nil
	}
	err := o.src.Close()
	o.src = nil
	return err
}

// OnBatch implements exec.Operator.
func (o *op) OnBatch(ctx context.Context, _ int, rec arrow.Record, out exec.Emitter) error {
	n := int(rec.NumRows())
	o.m.RecordsIn.Add(int64(n))
	if n == 0 {
		return nil
	}
	res, err := o.join(ctx, rec)
	if err != nil {
		return fmt.Errorf("lookup join: %q: %w", o.n.ID(), err)
	}
	if res == nil {
		return nil
	}
	defer res.Release()
	o.m.RecordsOut.Add(res.NumRows())
	return out.Emit(ctx, res)
}

// join returns the output rows of rec (nil: none).
func (o *op) join(ctx context.Context, rec arrow.Record) (arrow.Record, error) {
	n := int(rec.NumRows())
	keyOf, found, err := o.lookup(ctx, rec)
	if err != nil {
		return nil, err
	}
	idx := make([]int32, 0, n)
	rows := make([]connectors.LookupRow, 0, n) // nil: padding
	for i := 0; i < n; i++ {
		if keyOf[i] >= 0 {
			for _, r := range found[keyOf[i]] {
				idx = append(idx, int32(i))
				rows = append(rows, r)
			}
		}
	}
	if o.residual != nil && len(idx) > 0 {
		cand, err := o.build(rec, idx, rows)
		if err != nil {
			return nil, err
		}
		pass, err := o.evalResidual(cand)
		cand.Release()
		if err != nil {
			return nil, err
		}
		k := 0
		for p := range idx {
			if pass[p] {
				idx[k], rows[k] = idx[p], rows[p]
				k++
			}
		}
		idx, rows = idx[:k], rows[:k]
	}
	if o.n.Type.LeftOuter() {
		idx, rows = pad(n, idx, rows)
	}
	if len(idx) == 0 {
		return nil, nil
	}
	return o.build(rec, idx, rows)
}

// lookup looks the keys of rec's rows up: keyOf[i] is the index in found
// of row i's rows, -1 for a NULL key.
func (o *op) lookup(ctx context.Context, rec arrow.Record) (keyOf []int, found [][]connectors.LookupRow, err error) {
	n := int(rec.NumRows())
	keyOf = make([]int, n)
	nk, done := 0, false
	if ints, ok := o.src.(connectors.Int64LookupSource); ok && len(o.n.InputKeys) == 1 {
		// One key column of int64s: unboxed.
		var vs []int64
		switch c := rec.Column(o.n.InputKeys[0]).(type) {
		case *array.Int64:
			vs = c.Int64Values()
		case *array.Timestamp:
			ts := c.TimestampValues() // arrow.Timestamp is an int64
			vs = unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(ts))), len(ts))
		}
		if vs != nil {
			done = true
			col := rec.Column(o.n.InputKeys[0])
			keys := make([]int64, 0, n)
			for i := range n {
				if col.IsNull(i) {
					keyOf[i] = -1
					continue
				}
				keyOf[i] = len(keys)
				keys = append(keys, vs[i])
			}
			found, err = ints.LookupInt64s(ctx, keys)
			nk = len(keys)
		}
	}
	if !done {
		nc := len(o.n.InputKeys)
		flat := make([]any, n*nc) // one allocation for every key
		keys := make([][]any, 0, n)
		for i := range n {
			k := flat[i*nc : (i+1)*nc : (i+1)*nc]
			keyOf[i] = len(keys)
			for j, c := range o.n.InputKeys {
				if k[j] = connectors.LookupValue(rec.Column(c), i); k[j] == nil {
					keyOf[i] = -1
					break
				}
			}
			if keyOf[i] >= 0 {
				keys = append(keys, k)
			}
		}
		found, err = o.src.Lookup(ctx, keys)
		nk = len(keys)
	}
	if err != nil {
		return nil, nil, err
	}
	if len(found) != nk {
		return nil, nil, fmt.Errorf("the lookup source returned %d results for %d keys", len(found), nk)
	}
	return keyOf, found, nil
}

// pad puts, in row order, a padded pair (nil table row) for every row of
// 0..n-1 without a pair in idx (which is in row order).
func pad(n int, idx []int32, rows []connectors.LookupRow) ([]int32, []connectors.LookupRow) {
	outIdx := make([]int32, 0, max(n, len(idx)))
	outRows := make([]connectors.LookupRow, 0, cap(outIdx))
	p := 0
	for i := 0; i < n; i++ {
		if p < len(idx) && int(idx[p]) == i {
			for p < len(idx) && int(idx[p]) == i {
				outIdx, outRows = append(outIdx, idx[p]), append(outRows, rows[p])
				p++
			}
			continue
		}
		outIdx, outRows = append(outIdx, int32(i)), append(outRows, nil)
	}
	return outIdx, outRows
}

// build returns the output rows: input row idx[p] joined with rows[p].
func (o *op) build(rec arrow.Record, idx []int32, rows []connectors.LookupRow) (arrow.Record, error) {
	kinds := exec.RowKinds(rec)
	data := exec.WithoutRowKinds(rec)
	left := data
	if !identity(idx, int(rec.NumRows())) {
		var err error
		left, err = expr.Take(data, idx, o.alloc)
		data.Release()
		if err != nil {
			return nil, err
		}
	}
	defer left.Release()
	cols := make([]arrow.Array, 0, o.outArrow.NumFields())
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for c := 0; c < o.nIn; c++ {
		a := left.Column(c)
		a.Retain()
		cols = append(cols, a)
	}
	for c := range o.n.TableSchema.Fields {
		b := array.NewBuilder(o.alloc, o.outArrow.Field(o.nIn+c).Type)
		b.Reserve(len(rows))
		if sb, ok := b.(*array.StringBuilder); ok {
			// The values' bytes at once, not by doubling.
			total := 0
			for _, r := range rows {
				if r != nil {
					if v, ok := r[c].(string); ok {
						total += len(v)
					}
				}
			}
			sb.ReserveData(total)
		}
		for _, r := range rows {
			var v any
			if r != nil {
				v = r[c]
			}
			if err := connectors.AppendLookupValue(b, v); err != nil {
				b.Release()
				return nil, fmt.Errorf("table %q column %q: %w", o.n.Table, o.n.TableSchema.Fields[c].Name, err)
			}
		}
		cols = append(cols, b.NewArray())
		b.Release()
	}
	out := array.NewRecord(o.outArrow, cols, int64(len(idx)))
	if kinds == nil {
		return out, nil
	}
	ks := make([]types.RowKind, len(idx))
	for p, i := range idx {
		ks[p] = exec.RowKindAt(kinds, int(i))
	}
	ka := exec.NewRowKinds(o.alloc, ks)
	with := exec.WithRowKinds(out, ka)
	ka.Release()
	out.Release()
	return with, nil
}

// identity reports whether idx is 0..n-1: every input row joined with
// one table row, in order (the common case of a lookup by a key of the
// table), when the input's columns are the output's as they are, without
// a copy.
func identity(idx []int32, n int) bool {
	if len(idx) != n {
		return false
	}
	for p, i := range idx {
		if int(i) != p {
			return false
		}
	}
	return true
}

// evalResidual evaluates the residual condition over candidate rows.
func (o *op) evalResidual(cand arrow.Record) ([]bool, error) {
	data := exec.WithoutRowKinds(cand)
	defer data.Release()
	res, err := o.residual.Eval(data)
	if err != nil {
		return nil, fmt.Errorf("residual condition: %w", err)
	}
	defer res.Release()
	b, ok := res.(*array.Boolean)
	if !ok {
		return nil, fmt.Errorf("residual condition is %s, not BOOLEAN", res.DataType())
	}
	pass := make([]bool, b.Len())
	for p := range pass {
		pass[p] = b.IsValid(p) && b.Value(p)
	}
	return pass, nil
}
