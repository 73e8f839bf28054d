// Package operators is the operator registry: one table mapping plan node
// kinds to the constructors of their operators (packages calc, limit,
// union, over, and the window operators). The engine passes New() to the
// runtime as exec.Options.Operators; exec itself never imports an
// operator package. A new operator is a package of its own and one line
// here.
package operators

import (
	"fmt"

	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/operators/calc"
	"github.com/streamsql/streamsql/operators/groupagg"
	"github.com/streamsql/streamsql/operators/join"
	"github.com/streamsql/streamsql/operators/limit"
	"github.com/streamsql/streamsql/operators/lookupjoin"
	"github.com/streamsql/streamsql/operators/over"
	"github.com/streamsql/streamsql/operators/rank"
	"github.com/streamsql/streamsql/operators/temporaljoin"
	"github.com/streamsql/streamsql/operators/timesort"
	"github.com/streamsql/streamsql/operators/union"
	"github.com/streamsql/streamsql/operators/window"
	"github.com/streamsql/streamsql/plan"
)

// Constructor builds the operator of one plan node for one subtask.
type Constructor func(n plan.Node, env exec.OperatorEnv) (exec.Operator, error)

// Registry maps plan node kinds (plan.Node.Kind) to constructors. It
// implements exec.Operators.
type Registry struct {
	ctors map[string]Constructor
}

var _ exec.Operators = (*Registry)(nil)

// New returns the registry of every built-in operator.
func New() *Registry {
	return &Registry{ctors: map[string]Constructor{
		"calc":          typed(calc.New),
		"group-agg":     typed(groupagg.New),
		"join":          typed(join.New),
		"window-join":   typed(join.NewWindow),
		"interval-join": typed(join.NewInterval),
		"limit":         typed(limit.New),
		"lookup-join":   typed(lookupjoin.New),
		"rank":          typed(rank.New),
		"temporal-join": typed(temporaljoin.New),
		"over-agg":      typed(over.New),
		"time-sort":     typed(timesort.New),
		"union":         typed(union.New),
		"window-agg":    typed(window.NewAgg),
		"window-assign": typed(window.NewAssign),
	}}
}

// Register adds (or replaces) the constructor of node kind.
func (r *Registry) Register(kind string, c Constructor) { r.ctors[kind] = c }

// NewOperator implements exec.Operators.
func (r *Registry) NewOperator(n plan.Node, env exec.OperatorEnv) (exec.Operator, error) {
	c := r.ctors[n.Kind()]
	if c == nil {
		return nil, fmt.Errorf("operators: no operator for plan node %s (kind %q)", n.ID(), n.Kind())
	}
	if env.Metrics == nil {
		env.Metrics = &exec.OperatorMetrics{}
	}
	if env.MaxParallelism <= 0 {
		env.MaxParallelism = state.DefaultMaxParallelism
	}
	return c(n, env)
}

// typed adapts a constructor of one node type.
func typed[T plan.Node](f func(T, exec.OperatorEnv) (exec.Operator, error)) Constructor {
	return func(n plan.Node, env exec.OperatorEnv) (exec.Operator, error) {
		x, ok := n.(T)
		if !ok {
			return nil, fmt.Errorf("operators: plan node %s is a %T, not the node of kind %q", n.ID(), n, n.Kind())
		}
		return f(x, env)
	}
}
