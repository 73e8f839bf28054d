package planner

import (
	"sort"
	"strings"

	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/types"
)

// Query hints (/*+ … */ after SELECT). Flink's STATE_TTL('t' = '1d', …)
// gives the regular join and the group aggregation of the SELECT that
// carries it a state TTL per input, by the input's table name or alias,
// overriding table.exec.state.ttl for that operator ('0' keeps its state
// forever). Every other hint is refused by name.

// stateTTLHint is one option of a STATE_TTL hint.
type stateTTLHint struct {
	ms   int64 // 0: keep the state forever
	pos  parser.Pos
	name string
	used bool
}

// ttlHints are the STATE_TTL options of one SELECT, by lower-case input
// name.
type ttlHints map[string]*stateTTLHint

// joinHints names Flink's join hints, refused with their own message.
var joinHints = map[string]bool{"BROADCAST": true, "SHUFFLE_HASH": true, "SHUFFLE_MERGE": true, "NEST_LOOP": true, "LOOKUP": true}

// readHints checks the hints of sel and returns its STATE_TTL options
// (nil when it has none).
func readHints(sel *parser.Select) (ttlHints, error) {
	var out ttlHints
	for _, h := range sel.Hints {
		switch {
		case h.Name == "STATE_TTL":
		case joinHints[h.Name]:
			return nil, errorf(h.Pos, "join hint %s is not supported: regular joins run as Flink's streaming join, keyed on the join keys", h.Name)
		case h.Name == "OPTIONS":
			return nil, errorf(h.Pos, "OPTIONS is a table hint (after a table name), which is not supported; set the option in the table's WITH (…)")
		default:
			return nil, errorf(h.Pos, "unknown hint %s: the query hint supported is STATE_TTL('table' = 'duration', …)", h.Name)
		}
		if len(h.Options) == 0 {
			return nil, errorf(h.Pos, "STATE_TTL needs 'table' = 'duration' options, such as STATE_TTL('orders' = '1d')")
		}
		if out == nil {
			out = ttlHints{}
		}
		for _, o := range h.Options {
			ms, err := types.ParseInterval(o.Value)
			if err != nil || ms < 0 {
				return nil, errorf(o.Pos, "STATE_TTL: the TTL of %q must be a duration of 0 or more, such as '1d', '12 h' or '30 min', got %q", o.Key, o.Value)
			}
			k := strings.ToLower(o.Key)
			if _, dup := out[k]; dup {
				return nil, errorf(o.Pos, "STATE_TTL: %q is given twice", o.Key)
			}
			out[k] = &stateTTLHint{ms: ms, pos: o.Pos, name: o.Key}
		}
	}
	return out, nil
}

// unused returns an error for the first option (by position) that named
// no input of a join or aggregation of the SELECT; inputs are the names
// of the SELECT's inputs.
func (h ttlHints) unused(inputs []string) error {
	var bad []*stateTTLHint
	for _, o := range h {
		if !o.used {
			bad = append(bad, o)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Slice(bad, func(i, j int) bool { return bad[i].pos.Offset < bad[j].pos.Offset })
	if len(inputs) == 0 {
		return errorf(bad[0].pos, "STATE_TTL: %q is not an input of this query's join or aggregation (a STATE_TTL hint applies to the regular join or the GROUP BY of its SELECT)", bad[0].name)
	}
	return errorf(bad[0].pos, "STATE_TTL: %q is not an input of this query's join or aggregation (its inputs: %s)", bad[0].name, strings.Join(inputs, ", "))
}

// ttlFor returns the hinted TTL of the input named name: -1 for '0'
// (keep forever), 0 when not hinted.
func (h ttlHints) ttlFor(name string) int64 {
	o, ok := h[strings.ToLower(name)]
	if !ok || name == "" {
		return 0
	}
	o.used = true
	if o.ms == 0 {
		return -1
	}
	return o.ms
}

// relName is the name a hint refers to rel by: the qualifier (table name
// or alias) all its columns share, or "" (a join of several).
func relName(rel *relation) string {
	name := ""
	for i, c := range rel.cols {
		if c.window {
			continue
		}
		if i == 0 {
			name = c.table
		} else if !strings.EqualFold(c.table, name) {
			return ""
		}
	}
	return name
}

// hintedTTL returns the STATE_TTL the current SELECT's hint gives input
// rel of a join or aggregation (see ttlHints.ttlFor), noting the input.
func (b *builder) hintedTTL(rel *relation) int64 {
	if b.hints == nil {
		return 0
	}
	name := relName(rel)
	if name != "" {
		b.inputs = append(b.inputs, name)
	}
	return b.hints.ttlFor(name)
}
