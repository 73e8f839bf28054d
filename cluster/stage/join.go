package stage

import (
	"fmt"

	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// A regular join (plan.Join) has two inputs but one repartition topic:
// its rows have the union schema
//
//	[$side, $key0 … $keyN, left columns…, right columns…]
//
// where $side is 0 for a left row and 1 for a right one, the $key columns
// are the row's join key (the left or right key columns, of the same
// types on both sides: the planner casts them), and the other side's
// columns are NULL. The repartition writer hashes the $key columns, which
// encode as the join key does (state.KeyHasher and the join's
// state.KeyEncoder hash the same bytes), so a key's rows of both sides
// land in the partition whose key groups hold that key's state. Stage 0
// runs both inputs' stateless chains, each through a Calc into that
// schema, into one Union; stage 1 splits the reader's rows by $side back
// into the two inputs of the join. The reader's watermark (the minimum
// over every upstream partition of both sources) is both inputs'.

// joinStages returns stage 0's output for join j (the Union of both
// sides), its key columns, and the function that builds j over stage 1's
// reader.
func joinStages(j *plan.Join) (plan.Node, []int, func(reader plan.Node) plan.Node, error) {
	var sides, below [2]plan.Node
	var exs [2]*plan.Exchange
	keys := [2][]int{j.LeftKeys, j.RightKeys}
	for i, in := range j.Inputs() {
		sides[i], below[i] = in, in
		if ex, ok := in.(*plan.Exchange); ok {
			exs[i], below[i] = ex, ex.Input
		}
	}
	if len(keys[0]) == 0 || len(keys[0]) != len(keys[1]) {
		return nil, nil, nil, fmt.Errorf("join %s: %d left and %d right key columns", j.ID(), len(keys[0]), len(keys[1]))
	}
	// The union schema.
	fields := []types.Field{{Name: "$side", Type: types.IntType}}
	for i, l := range keys[0] {
		lt, rt := sides[0].Schema().Fields[l].Type, sides[1].Schema().Fields[keys[1][i]].Type
		if !types.Same(lt, rt) {
			return nil, nil, nil, fmt.Errorf("join %s: key column %d is %s on the left, %s on the right", j.ID(), i, lt, rt)
		}
		fields = append(fields, types.Field{Name: fmt.Sprintf("$key%d", i), Type: lt.Nullable()})
	}
	nk := len(keys[0])
	off := [2]int{1 + nk, 1 + nk + sides[0].Schema().Len()}
	for i, tag := range []string{"l", "r"} {
		for c, f := range sides[i].Schema().Fields {
			fields = append(fields, types.Field{Name: fmt.Sprintf("$%s%d", tag, c), Type: f.Type.Nullable()})
		}
	}
	union := types.Schema{Fields: fields}
	side := func(i int) plan.Expr { return &plan.Literal{Value: int64(i), T: types.IntType} }

	// Stage 0: each side into the union schema.
	u := &plan.Union{}
	for i := range sides {
		exprs := []plan.Expr{side(i)}
		sch := sides[i].Schema()
		for _, k := range keys[i] {
			exprs = append(exprs, &plan.ColumnRef{Index: k, Name: sch.Fields[k].Name, T: sch.Fields[k].Type})
		}
		for s := range sides {
			for c, f := range sides[s].Schema().Fields {
				if s == i {
					exprs = append(exprs, &plan.ColumnRef{Index: c, Name: f.Name, T: f.Type})
				} else {
					exprs = append(exprs, &plan.Literal{T: f.Type.Nullable()})
				}
			}
		}
		c := &plan.Calc{Input: below[i], Exprs: exprs}
		c.Base = plan.Base{OpID: fmt.Sprintf("%s-repartition-%s", j.ID(), [2]string{"left", "right"}[i]), Output: union,
			Parallelism: 1, Changelog: plan.AppendOnly}
		u.Ins = append(u.Ins, c)
	}
	u.Base = plan.Base{OpID: j.ID() + "-repartition-union", Output: union, Parallelism: 1, Changelog: plan.AppendOnly}
	var keyCols []int
	for i := range nk {
		keyCols = append(keyCols, 1+i)
	}

	// Stage 1: the reader's rows of each side, as that side's rows.
	rebuild := func(reader plan.Node) plan.Node {
		var ins [2]plan.Node
		for i := range sides {
			var exprs []plan.Expr
			for c := range sides[i].Schema().Fields {
				f := union.Fields[off[i]+c]
				exprs = append(exprs, &plan.ColumnRef{Index: off[i] + c, Name: f.Name, T: f.Type})
			}
			filter := &plan.Call{Func: "=", Args: []plan.Expr{&plan.ColumnRef{Index: 0, Name: "$side", T: types.IntType}, side(i)}, T: types.BooleanType}
			c := &plan.Calc{Input: reader, Filter: filter, Exprs: exprs}
			c.Base = plan.Base{OpID: fmt.Sprintf("%s-%s-input", j.ID(), [2]string{"left", "right"}[i]), Output: sides[i].Schema(),
				Parallelism: 1, Changelog: plan.AppendOnly}
			ins[i] = c
			if exs[i] != nil {
				ins[i] = exs[i].WithInputs(c)
			}
		}
		return j.WithInputs(ins[0], ins[1])
	}
	return u, keyCols, rebuild, nil
}
