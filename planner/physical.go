package planner

import (
	"fmt"
	"slices"
	"strings"

	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// defaultMaxParallelism is the number of key groups when
// Planner.MaxParallelism is 0 (Flink's default for small jobs).
const defaultMaxParallelism = 128

// parallelism returns the planner's parallelism and max parallelism with
// their defaults, refusing a parallelism the key groups cannot split into.
func (p *Planner) parallelism(pos parser.Pos) (par, maxPar int, err error) {
	par, maxPar = p.Parallelism, p.MaxParallelism
	if par <= 0 {
		par = 1
	}
	if maxPar <= 0 {
		maxPar = defaultMaxParallelism
	}
	if par > maxPar {
		return 0, 0, errorf(pos, "parallelism %d exceeds the max parallelism %d (the number of key groups); lower 'parallelism.default' or raise 'pipeline.max-parallelism'", par, maxPar)
	}
	return par, maxPar, nil
}

// distribute sets every node's parallelism and puts the exchanges in:
//
//   - sources run as one subtask;
//   - a keyed operator (a WindowAgg with keys, a SESSION WindowAssign with
//     partition keys) runs at par, behind a Hash exchange on its keys,
//     even when par is 1 (the runtime chains a 1→1 exchange for free);
//   - a GroupAgg likewise, on its group keys;
//   - a WindowAgg or GroupAgg without keys, a SESSION WindowAssign without partition
//     keys, a Limit and a sink run as one subtask, behind a Single
//     exchange when their input is parallel;
//   - a Union runs at its inputs' parallelism when they agree, else as
//     one subtask behind a Single exchange on each parallel input;
//   - every other node (Calc, the other window assigners: stateless) runs
//     at its input's parallelism.
func distribute(g *plan.Graph, par int) *plan.Graph {
	return rewrite(g, func(n plan.Node, _ func(plan.Node) bool) plan.Node {
		ins := n.Inputs()
		keys, keyed, single := requirement(n)
		var lk, rk []int
		switch j := n.(type) {
		case *plan.Join:
			lk, rk = j.LeftKeys, j.RightKeys
		case *plan.IntervalJoin:
			lk, rk = j.LeftKeys, j.RightKeys
		case *plan.TemporalJoin: // by the versioned table's primary key
			lk, rk = j.LeftKeys, j.RightKeys
		}
		if lk != nil {
			// Both inputs are hashed by their join keys, which encode
			// alike, so that matching rows meet in one subtask.
			n = n.WithInputs(exchange(ins[0], plan.Hash, lk, par), exchange(ins[1], plan.Hash, rk, par))
			n.Props().Parallelism = par
			return n
		}
		if j, ok := n.(*plan.WindowJoin); ok {
			// Likewise, by window bounds and join keys.
			n = n.WithInputs(exchange(ins[0], plan.Hash, j.LeftKeys, par), exchange(ins[1], plan.Hash, j.RightKeys, par))
			n.Props().Parallelism = par
			return n
		}
		switch {
		case keyed:
			n = n.WithInputs(exchange(ins[0], plan.Hash, keys, par))
			n.Props().Parallelism = par
		case single:
			changed := false
			ex := make([]plan.Node, len(ins))
			for i, in := range ins {
				ex[i] = in
				if in.Props().Parallelism > 1 {
					ex[i], changed = exchange(in, plan.Single, nil, 1), true
				}
			}
			if changed {
				n = n.WithInputs(ex...)
			}
			n.Props().Parallelism = 1
		default:
			n.Props().Parallelism = ins[0].Props().Parallelism
		}
		return n
	})
}

// requirement says how node n's input must be distributed: keyed on keys
// (input columns), or all on one subtask (single), or neither (the node
// runs where its input runs).
func requirement(n plan.Node) (keys []int, keyed, single bool) {
	switch x := n.(type) {
	case *plan.Source, *plan.Limit, *plan.Sink, *plan.TimeSort:
		return nil, false, true
	case *plan.WindowAgg:
		if len(x.Keys) > 0 {
			return x.Keys, true, false
		}
		return nil, false, true
	case *plan.GroupAgg:
		if len(x.Keys) > 0 {
			return x.Keys, true, false
		}
		return nil, false, true
	case *plan.Rank:
		if len(x.Partition) > 0 {
			return x.Partition, true, false
		}
		return nil, false, true
	case *plan.OverAgg:
		if len(x.Partition) > 0 {
			return x.Partition, true, false
		}
		return nil, false, true
	case *plan.WindowAssign:
		if x.Window.Kind != plan.Session {
			return nil, false, false
		}
		if len(x.Partition) > 0 {
			return x.Partition, true, false
		}
		return nil, false, true
	case *plan.Union:
		p := x.Ins[0].Props().Parallelism
		for _, in := range x.Ins[1:] {
			if in.Props().Parallelism != p {
				return nil, false, true
			}
		}
		return nil, false, false
	}
	return nil, false, false
}

// exchange returns an Exchange over in for a consumer of parallelism par.
func exchange(in plan.Node, d plan.Distribution, keys []int, par int) *plan.Exchange {
	e := &plan.Exchange{Input: in, Dist: d, Keys: keys}
	e.Output = in.Schema()
	e.Parallelism = par
	return e
}

// changelogs infers the changelog mode of every node (inputs first) and
// checks it against what each consumer accepts: a window operator needs an
// append-only input, and a sink table must accept its input's mode. pos[i]
// is where the errors about g.Sinks[i] and the nodes below it point (its
// statement).
func (p *Planner) changelogs(g *plan.Graph, pos []parser.Pos) error {
	// posOf is the position of the first sink's statement that reads n.
	at := map[plan.Node]parser.Pos{}
	for i := len(g.Sinks) - 1; i >= 0; i-- {
		plan.Walk(g.Sinks[i], func(n plan.Node) { at[n] = pos[i] })
	}
	for _, n := range g.Nodes() {
		pos := at[n]
		b := n.Props()
		ins := n.Inputs()
		switch x := n.(type) {
		case *plan.Source:
			b.Changelog = plan.AppendOnly
			if p.Connectors != nil {
				b.Changelog = p.Connectors.SourceChangelog(x.Options)
			}
			if b.Changelog == plan.Retract {
				// A changelog of a table with a PRIMARY KEY holds one
				// row per key (NOT ENFORCED: the key is trusted, as in
				// Flink).
				b.UpsertKey = columnsOf(x.Schema(), x.Options[plan.PrimaryKeyOption])
			}
		case *plan.LateRows:
			b.Changelog = plan.AppendOnly // rows of an append-only input
		case *plan.TimeSort:
			if in := ins[0]; in.Props().Changelog != plan.AppendOnly {
				return errorf(pos, "ORDER BY a time attribute needs an append-only input, but %s emits updates and deletes", producer(in))
			}
			b.Changelog = plan.AppendOnly
		case *plan.OverAgg:
			if in := ins[0]; in.Props().Changelog != plan.AppendOnly {
				return errorf(pos, "OVER aggregation %s needs an append-only input, as in Flink, but %s emits updates and deletes", n.ID(), producer(in))
			}
			b.Changelog = plan.AppendOnly
		case *plan.WindowAgg, *plan.WindowAssign:
			if in := ins[0]; in.Props().Changelog != plan.AppendOnly {
				return errorf(pos, "%s %s needs an append-only input, but %s emits updates and deletes; window operators do not take updates and deletes yet", describeKind(n), n.ID(), producer(in))
			}
			b.Changelog = plan.AppendOnly
			if wa, ok := n.(*plan.WindowAgg); ok && (wa.AllowLateness > 0 || wa.EarlyFire > 0) {
				b.Changelog = plan.Retract // late or early results update rows emitted before
			}
		case *plan.GroupAgg:
			if in := ins[0]; in.Props().Changelog == plan.Upsert {
				return errorf(pos, "aggregation %s over %s, which emits upserts without update-before rows, is not supported yet", n.ID(), producer(in))
			}
			x.InputAppendOnly = ins[0].Props().Changelog == plan.AppendOnly
			b.Changelog = plan.Retract
			b.UpsertKey = make([]int, len(x.Keys))
			for i := range b.UpsertKey {
				b.UpsertKey[i] = i
			}
		case *plan.Rank:
			if in := ins[0]; in.Props().Changelog == plan.Upsert {
				return errorf(pos, "Top-N %s over %s, which emits upserts without update-before rows, is not supported yet", n.ID(), producer(in))
			}
			x.InputUpdating = ins[0].Props().Changelog != plan.AppendOnly
			if x.KeepFirst && x.InputUpdating {
				x.KeepFirst = false // an updating Top-1 instead
			}
			if x.KeepFirst {
				b.Changelog = plan.AppendOnly
				break
			}
			if x.Window {
				if x.InputUpdating {
					return errorf(pos, "window Top-N %s needs an append-only input, but %s emits updates and deletes", n.ID(), producer(ins[0]))
				}
				b.Changelog = plan.AppendOnly
				break
			}
			b.Changelog = plan.Retract
			switch {
			case x.OutputRank && x.Func == plan.RowNumber:
				// One row per partition and number.
				b.UpsertKey = append(slices.Clone(x.Partition), x.Schema().Len()-1)
			case x.Func == plan.RowNumber && x.End == 1 && len(x.Partition) > 0:
				// A Top-1: one row per partition.
				b.UpsertKey = slices.Clone(x.Partition)
			}
		case *plan.Join:
			b.Changelog = plan.AppendOnly
			if x.Type != plan.InnerJoin && x.Type != plan.SemiJoin {
				// Outer rows are retracted when their first match comes, a
				// semi join's left rows only when their last match goes.
				b.Changelog = plan.Retract
			}
			for _, in := range ins {
				switch in.Props().Changelog {
				case plan.Upsert:
					return errorf(pos, "join %s over %s, which emits upserts without update-before rows, is not supported yet", n.ID(), producer(in))
				case plan.Retract:
					b.Changelog = plan.Retract
				}
			}
		case *plan.WindowJoin:
			for _, in := range ins {
				if in.Props().Changelog != plan.AppendOnly {
					return errorf(pos, "window join %s needs append-only inputs, as in Flink, but %s emits updates and deletes", n.ID(), producer(in))
				}
			}
			b.Changelog = plan.AppendOnly
		case *plan.IntervalJoin:
			for _, in := range ins {
				if in.Props().Changelog != plan.AppendOnly {
					return errorf(pos, "interval join %s needs append-only inputs, as in Flink, but %s emits updates and deletes", n.ID(), producer(in))
				}
			}
			b.Changelog = plan.AppendOnly
		case *plan.TemporalJoin:
			if in := ins[0]; in.Props().Changelog != plan.AppendOnly {
				return errorf(pos, "temporal join %s needs an append-only left input, as in Flink, but %s emits updates and deletes", n.ID(), producer(in))
			}
			b.Changelog = plan.AppendOnly
		case *plan.LookupJoin:
			// Each row keeps its kind; a key may match several rows.
			if in := ins[0]; in.Props().Changelog == plan.Upsert {
				return errorf(pos, "lookup join %s over %s, which emits upserts without update-before rows, is not supported yet", n.ID(), producer(in))
			}
			b.Changelog = ins[0].Props().Changelog
		case *plan.Calc:
			in := ins[0].Props()
			b.Changelog = in.Changelog
			if in.Changelog == plan.Retract && in.UpsertKey != nil {
				// Rows unique on a key stay unique on it where it is
				// passed through (a filter drops rows, not keys).
				b.UpsertKey = projectKey(x, in.UpsertKey)
			}
			if in.Changelog == plan.Upsert {
				b.UpsertKey = nil
				if x.Filter == nil {
					b.UpsertKey = projectKey(x, in.UpsertKey)
				}
				if b.UpsertKey == nil {
					// The key is not passed through: the rows cannot be
					// upserts on it any more.
					b.Changelog = plan.Retract
				}
			}
		default:
			// Union, Exchange, Limit, Sink: rows pass through; the mode of
			// several inputs is the least that covers them all.
			b.Changelog = plan.AppendOnly
			for i, in := range ins {
				ip := in.Props()
				switch {
				case i == 0:
					b.Changelog, b.UpsertKey = ip.Changelog, ip.UpsertKey
				case ip.Changelog == b.Changelog && (ip.Changelog != plan.Upsert || slices.Equal(ip.UpsertKey, b.UpsertKey)):
				case ip.Changelog == plan.AppendOnly && b.Changelog == plan.Retract,
					ip.Changelog == plan.Retract && b.Changelog == plan.AppendOnly:
					b.Changelog, b.UpsertKey = plan.Retract, nil
				default:
					return errorf(pos, "UNION ALL of %s and %s: the inputs' changelog modes (%s, %s) cannot be combined yet", ins[0].ID(), in.ID(), ins[0].Props().Changelog, ip.Changelog)
				}
			}
			if len(ins) > 1 && b.Changelog == plan.Retract {
				b.UpsertKey = nil // several inputs may hold rows of one key
			}
		}
	}
	for i, s := range g.Sinks {
		c := s.Props().Changelog
		if p.Connectors == nil || p.Connectors.SinkAccepts(s.Options, c) {
			continue
		}
		return errorf(pos[i], "table %s (connector %s) accepts only inserts (append-only), but the query produces updates and deletes: %s emits them; use a sink that accepts updates (print, blackhole, upsert-kafka with a PRIMARY KEY, jdbc with a PRIMARY KEY, or 'format' = 'debezium-json')", s.Table, s.Connector, producer(s.Input))
	}
	for i, s := range g.Sinks {
		if err := p.checkSinkKey(s); err != nil {
			return errorf(pos[i], "%v", err)
		}
	}
	return nil
}

// keyColumn returns the input column e passes on one to one, or -1: a
// column itself or its CAST from one integer type to another (which fails
// rather than wraps around).
func keyColumn(e plan.Expr) int {
	if c, ok := e.(*plan.Cast); ok && !c.Safe && c.T.IsInteger() && c.Arg.Type().IsInteger() {
		e = c.Arg
	}
	if r, ok := e.(*plan.ColumnRef); ok {
		return r.Index
	}
	return -1
}

// columnsOf returns the positions in schema of the comma-separated column
// names, nil when names is empty or one is not in schema.
func columnsOf(schema types.Schema, names string) []int {
	if names == "" {
		return nil
	}
	var out []int
	for _, n := range strings.Split(names, ",") {
		i := slices.IndexFunc(schema.Fields, func(f types.Field) bool { return strings.EqualFold(f.Name, n) })
		if i < 0 {
			return nil
		}
		out = append(out, i)
	}
	return out
}

// fieldNames lists the names of schema's columns at idx, as "a, b".
func fieldNames(schema types.Schema, idx []int) string {
	names := make([]string, len(idx))
	for i, k := range idx {
		names[i] = schema.Fields[k].Name
	}
	return strings.Join(names, ", ")
}

// checkSinkKey refuses updates into a sink that writes them by its
// PRIMARY KEY (upsert-kafka, jdbc) when the query's rows are known not to
// be unique on that key: an update or delete of one row would then
// overwrite or delete the other rows of its key, silently. They are known
// not to be when they carry a unique key (UpsertKey) that the PRIMARY KEY
// does not contain, or when they are a Top-N's rows without their rank
// number (up to N per partition). When nothing is known (a changelog
// source without a PRIMARY KEY, a join), the sink's key is trusted, as
// before. Flink keeps every row per key there (its upsert materializer);
// we refuse and say which key would be right.
func (p *Planner) checkSinkKey(s *plan.Sink) error {
	in := s.Input.Props()
	if in.Changelog == plan.AppendOnly || p.Connectors == nil || !p.Connectors.SinkUpsertsByKey(s.Options) {
		return nil
	}
	pk := columnsOf(s.Schema(), s.Options[plan.PrimaryKeyOption])
	what := fmt.Sprintf("table %s (connector %s) writes updates and deletes by its PRIMARY KEY (%s)", s.Table, s.Connector, s.Options[plan.PrimaryKeyOption])
	if in.UpsertKey != nil {
		if !slices.ContainsFunc(in.UpsertKey, func(k int) bool { return !slices.Contains(pk, k) }) {
			return nil
		}
		key := fieldNames(s.Schema(), in.UpsertKey)
		return fmt.Errorf("%s, but the rows of %s are unique by (%s) only: several rows of one key would overwrite each other and a delete of one would delete them all; declare PRIMARY KEY (%s) NOT ENFORCED", what, describeNode(s.Input), key, key)
	}
	n := s.Input
	for {
		c, ok := n.(*plan.Calc)
		if !ok {
			break
		}
		n = c.Input
		if key := n.Props().UpsertKey; key != nil && n.Props().Changelog == plan.Retract {
			cols := fieldNames(n.Schema(), key)
			return fmt.Errorf("%s, but the rows of %s are unique by (%s) and the query does not select all of it: several rows of one key would overwrite each other and a delete of one would delete them all; select every column of (%s) and declare them the PRIMARY KEY", what, describeNode(n), cols, cols)
		}
	}
	if r, ok := n.(*plan.Rank); ok && !r.OutputRank && (r.End > 1 || r.Func != plan.RowNumber) {
		return fmt.Errorf("%s, but the Top-N %s emits up to %d rows per partition and not their rank number: a delete of one would delete them all; select the rank number too and declare it part of the PRIMARY KEY", what, r.ID(), r.End)
	}
	return nil
}

// producer names the node that makes n's rows updating: the first node,
// walking down from n, whose inputs are all append-only, as "node id
// (format …)".
func producer(n plan.Node) string {
	for {
		var next plan.Node
		for _, in := range n.Inputs() {
			if in.Props().Changelog != plan.AppendOnly {
				next = in
				break
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return describeNode(n)
}

// describeNode names n for an error, as "node id (format …)".
func describeNode(n plan.Node) string {
	what := "node " + n.ID()
	if s, ok := n.(*plan.Source); ok && s.Options["format"] != "" {
		what += fmt.Sprintf(" (format %s)", s.Options["format"])
	}
	return what
}

// describeKind names a node's kind in words for errors.
func describeKind(n plan.Node) string {
	switch n.(type) {
	case *plan.WindowAgg:
		return "window aggregation"
	case *plan.WindowAssign:
		return "window TVF"
	}
	return strings.ReplaceAll(n.Kind(), "-", " ")
}

// projectKey maps the upsert key columns of c's input to c's output
// columns, or returns nil when c drops one of them. (A filter keeps a
// retracting input's key; over upserts the caller drops the key, as a
// filter may drop an update and keep its key's older row.)
func projectKey(c *plan.Calc, key []int) []int {
	out := make([]int, 0, len(key))
	for _, k := range key {
		found := -1
		for i, e := range c.Exprs {
			if keyColumn(e) == k {
				found = i
				break
			}
		}
		if found < 0 {
			return nil
		}
		out = append(out, found)
	}
	return out
}
