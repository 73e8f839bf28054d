package expr

import (
	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// zoneShift converts between a TIMESTAMP_LTZ instant and the local
// TIMESTAMP it shows in a session time zone (toLocal), or back: the
// int64-backed kernel of the casts that depend on the zone. The other
// zone casts compose it with the zone-free ones (LTZ → STRING is
// LTZ → TIMESTAMP → STRING).
type zoneShift struct {
	arg     Evaluator
	zone    *types.Zone
	toLocal bool
	t       types.Type
	alloc   memory.Allocator
}

func (e *zoneShift) Type() types.Type      { return e.t }
func (e *zoneShift) operands() []Evaluator { return []Evaluator{e.arg} }

// Eval implements Evaluator.
func (e *zoneShift) Eval(rec arrow.Record) (arrow.Array, error) {
	a, err := e.arg.Eval(rec)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	n := a.Len()
	in := fixedValues[int64](a)
	b := array.NewTimestampBuilder(e.alloc, e.t.Arrow().(*arrow.TimestampType))
	defer b.Release()
	b.Reserve(n)
	for i := 0; i < n; i++ {
		if a.IsNull(i) {
			b.UnsafeAppendBoolToBitmap(false)
			continue
		}
		v := in[i]
		if e.toLocal {
			v = e.zone.ToLocal(v)
		} else {
			v = e.zone.ToUTC(v)
		}
		b.UnsafeAppend(arrow.Timestamp(v))
	}
	return b.NewArray(), nil
}

// compileZoneCast compiles a cast for which plan.ZoneCast holds in a zone
// other than UTC: arg, of type from, to e.T.
func (c *compiler) compileZoneCast(e *plan.Cast, arg Evaluator) (Evaluator, error) {
	from, to := arg.Type(), e.T
	local := types.TimestampType.WithNotNull(from.NotNull)
	switch {
	case from.Kind == types.TimestampLTZ:
		shifted := &zoneShift{arg: arg, zone: e.Zone, toLocal: true, t: local, alloc: c.alloc}
		if to.Kind == types.Timestamp {
			return shifted, nil
		}
		return c.compileCastOf(&plan.Cast{T: to, Safe: e.Safe}, shifted)
	case from.Kind == types.String:
		parsed, err := c.compileCastOf(&plan.Cast{T: types.TimestampType.WithNotNull(to.NotNull), Safe: e.Safe}, arg)
		if err != nil {
			return nil, err
		}
		return &zoneShift{arg: parsed, zone: e.Zone, t: to, alloc: c.alloc}, nil
	}
	return &zoneShift{arg: arg, zone: e.Zone, t: to, alloc: c.alloc}, nil
}
