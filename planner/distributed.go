package planner

import (
	"strings"

	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/plan"
)

// checkDistributed refuses a plan that cannot run on several processes as
// one Kafka consumer group (SET 'execution.distributed' = 'true') yet:
// the sources must be kafka topics, read by one table each (the group
// commits one offset per partition), the one sink an exactly-once kafka
// table (its transactions commit the input offsets), and no operator may
// keep state, since state does not move between processes yet.
func (p *Planner) checkDistributed(g *plan.Graph, pos []parser.Pos) error {
	const what = "'execution.distributed' = 'true'"
	if len(g.Sinks) != 1 {
		return errorf(pos[0], "%s runs one INSERT per job, not a statement set of %d", what, len(g.Sinks))
	}
	topics := map[string]string{}
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
				if other, ok := topics[t]; ok && other != n.Table {
					return errorf(pos[0], "%s: tables %q and %q read the same topic %q; the group keeps one offset per partition", what, other, n.Table, t)
				}
				topics[t] = n.Table
			}
		case *plan.LookupJoin:
			// Keeps no keyed state that must move: at most a cache, which
			// each process fills for the partitions it reads.
		case *plan.Sink:
			if n.Connector == "collect" {
				return errorf(pos[0], "%s runs INSERT INTO a kafka table, not a SELECT for a client", what)
			}
			if n.Connector != "kafka" || !strings.EqualFold(n.Options["sink.delivery-guarantee"], "exactly-once") {
				return errorf(pos[0], "%s needs the sink %q to be a kafka table with 'sink.delivery-guarantee' = 'exactly-once', whose transactions commit the input offsets with the output", what, n.Table)
			}
		case *plan.Calc, *plan.Union, *plan.Exchange, *plan.WindowAssign:
		default:
			return errorf(pos[0], "%s runs stateless queries only so far (state does not move between processes yet): %s keeps state", what, describeStateful(n))
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
