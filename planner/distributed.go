package planner

import (
	"strings"

	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// checkDistributed refuses a plan that cannot run on several processes as
// one Kafka consumer group (SET 'execution.distributed' = 'true') yet:
// the sources must be kafka topics, read by one table each (the group
// commits one offset per partition), the one sink an exactly-once kafka
// or upsert-kafka table (its transactions commit the input offsets), and
// the one operator that keeps state a keyed TUMBLE, HOP, CUMULATE or
// SESSION window aggregation (without lateness or early fire), a non-windowed GROUP BY
// with keys or a Top-N (ROW_NUMBER, RANK, DENSE_RANK) partitioned by a
// key, or a regular equi-join (any join type), over append-only inputs:
// the job runs it as a stage behind a repartition topic, its state in a
// changelog topic (package stage).
func (p *Planner) checkDistributed(g *plan.Graph, pos []parser.Pos) error {
	const what = "'execution.distributed' = 'true'"
	if len(g.Sinks) != 1 {
		return errorf(pos[0], "%s runs one INSERT per job, not a statement set of %d", what, len(g.Sinks))
	}
	topics := map[string]*plan.Source{}
	var keyed plan.Node
	// one checks that n is the job's one keyed operator, over an
	// append-only input: the repartition topic carries inserts only.
	one := func(n plan.Node) error {
		if keyed != nil {
			return errorf(pos[0], "%s runs one keyed operator per job so far, not two (%s, then %s)", what, describeStateful(keyed), describeStateful(n))
		}
		for _, in := range n.Inputs() {
			if in.Props().Changelog != plan.AppendOnly {
				return errorf(pos[0], "%s needs the input of %s append-only (the repartition topic carries inserts), but it is %s", what, describeStateful(n), in.Props().Changelog)
			}
		}
		keyed = n
		return nil
	}
	for _, n := range g.Nodes() {
		switch n := n.(type) {
		case *plan.Source:
			if n.Connector != "kafka" {
				return errorf(pos[0], "%s reads kafka tables only; table %q has connector %q", what, n.Table, n.Connector)
			}
			if n.Options["topic-pattern"] != "" {
				return errorf(pos[0], "%s needs the topics of table %q named: 'topic-pattern' is not supported", what, n.Table)
			}
			for _, t := range strings.Split(n.Options["topic"], ";") {
				t = strings.TrimSpace(t)
				if other, ok := topics[t]; ok && other != n {
					if other.Table == n.Table {
						return errorf(pos[0], "%s reads table %q once per job: the group keeps one offset per partition of topic %q (a self-join reads it twice)", what, n.Table, t)
					}
					return errorf(pos[0], "%s: tables %q and %q read the same topic %q; the group keeps one offset per partition", what, other.Table, n.Table, t)
				}
				topics[t] = n
			}
		case *plan.LookupJoin:
			// Keeps no keyed state that must move: at most a cache, which
			// each process fills for the partitions it reads.
		case *plan.Sink:
			if n.Connector == "collect" {
				return errorf(pos[0], "%s runs INSERT INTO a kafka table, not a SELECT for a client", what)
			}
			if n.Connector != "kafka" && n.Connector != "upsert-kafka" || !strings.EqualFold(n.Options["sink.delivery-guarantee"], "exactly-once") {
				return errorf(pos[0], "%s needs the sink %q to be a kafka or upsert-kafka table with 'sink.delivery-guarantee' = 'exactly-once', whose transactions commit the input offsets with the output", what, n.Table)
			}
		case *plan.Calc, *plan.Union, *plan.Exchange:
		case *plan.WindowAssign:
			if n.Window.Kind == plan.Session {
				return errorf(pos[0], "%s runs a SESSION window in a window aggregation (GROUP BY window_start, window_end, …) only: the SESSION window TVF without one keeps state", what)
			}
		case *plan.WindowAgg:
			if len(n.Keys) == 0 {
				return errorf(pos[0], "%s needs the window aggregation grouped by a key besides the window (its key groups are what the processes share)", what)
			}
			if n.AllowLateness > 0 || n.EarlyFire > 0 || n.LateFire > 0 {
				return errorf(pos[0], "%s runs window aggregations without allow-lateness or early/late fire so far", what)
			}
			if err := one(n); err != nil {
				return err
			}
		case *plan.GroupAgg:
			if len(n.Keys) == 0 {
				return errorf(pos[0], "%s needs the GROUP BY aggregation grouped by a key (its key groups are what the processes share)", what)
			}
			if err := one(n); err != nil {
				return err
			}
		case *plan.Join:
			// Both inputs go through one repartition topic, keyed by the
			// join key (package stage).
			for i, l := range n.LeftKeys {
				lt, rt := n.Left.Schema().Fields[l].Type, n.Right.Schema().Fields[n.RightKeys[i]].Type
				if !types.Same(lt, rt) {
					return errorf(pos[0], "%s needs the join's key columns of one type on both sides: key %d is %s on the left, %s on the right", what, i+1, lt, rt)
				}
			}
			if err := one(n); err != nil {
				return err
			}
		case *plan.Rank:
			if len(n.Partition) == 0 {
				return errorf(pos[0], "%s needs the Top-N partitioned by a key (ROW_NUMBER() OVER (PARTITION BY …)): its key groups are what the processes share; an ORDER BY … LIMIT or a Top-N without PARTITION BY runs on one process", what)
			}
			if n.Window || n.KeepFirst {
				return errorf(pos[0], "%s runs a Top-N over a table so far, not a window Top-N or an event-time deduplication (ROW_NUMBER() … ORDER BY a time attribute ASC, rn = 1)", what)
			}
			if err := one(n); err != nil {
				return err
			}
		default:
			return errorf(pos[0], "%s runs stateless queries and one keyed window aggregation, GROUP BY aggregation, Top-N or regular join so far (the state of other operators does not move between processes yet): %s keeps state", what, describeStateful(n))
		}
	}
	return nil
}

// describeStateful names a stateful node for an error.
func describeStateful(n plan.Node) string {
	switch n.(type) {
	case *plan.WindowAgg:
		return "the window aggregation"
	case *plan.GroupAgg:
		return "the GROUP BY aggregation"
	case *plan.Join:
		return "the join"
	case *plan.Rank:
		return "the Top-N (ROW_NUMBER)"
	case *plan.OverAgg:
		return "the OVER aggregation"
	case *plan.Limit:
		return "the LIMIT"
	}
	return "operator " + n.Kind()
}
