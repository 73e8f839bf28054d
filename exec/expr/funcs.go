package expr

import (
	"github.com/streamsql/streamsql/plan"
)

// compileFunc builds the scalar functions; ok is false for an unknown
// name.
func (c *compiler) compileFunc(f string, e *plan.Call, args []Evaluator, arity func(lo, hi int) error, nullIn func() bool) (ev Evaluator, ok bool, err error) {
	return nil, false, nil
}

func (c *compiler) compileCase(e *plan.Case) (Evaluator, error) {
	return nil, nil
}
