package expr

import (
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// udf evaluates a user-defined scalar function: its arguments over the
// whole batch, then the function once per batch.
type udf struct {
	call  *plan.UDFCall
	args  []Evaluator
	alloc memory.Allocator
	want  arrow.DataType
}

func (c *compiler) compileUDF(e *plan.UDFCall) (Evaluator, error) {
	u := &udf{call: e, alloc: c.alloc, want: e.T.Arrow()}
	for _, a := range e.Args {
		ev, err := c.compile(a)
		if err != nil {
			return nil, err
		}
		u.args = append(u.args, ev)
	}
	return u, nil
}

func (u *udf) Type() types.Type { return u.call.T }

func (u *udf) Eval(rec arrow.Record) (arrow.Array, error) {
	args := make([]arrow.Array, len(u.args))
	defer func() {
		for _, a := range args {
			if a != nil {
				a.Release()
			}
		}
	}()
	for i, ev := range u.args {
		a, err := ev.Eval(rec)
		if err != nil {
			return nil, err
		}
		args[i] = a
	}
	n := int(rec.NumRows())
	out, err := u.call.Fn(args, n, u.alloc)
	if err != nil {
		return nil, fmt.Errorf("function %s: %w", u.call.Name, err)
	}
	if out.Len() != n || !arrow.TypeEqual(out.DataType(), u.want) {
		got := out.DataType()
		l := out.Len()
		out.Release()
		return nil, fmt.Errorf("function %s returned %d values of type %s, want %d of %s", u.call.Name, l, got, n, u.want)
	}
	return out, nil
}
