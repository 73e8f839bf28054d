package cluster

import (
	"fmt"
	"maps"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/IBM/sarama"
)

// parts is partitions 0..n-1 of topic t.
func parts(t string, n int) []partition {
	var out []partition
	for i := range n {
		out = append(out, partition{t, int32(i)})
	}
	return out
}

// show prints a plan as "a:0,1 b:2" (partitions of topic "t"; others as
// topic/p), members in instance order.
func show(ms []member, plan map[string][]partition) string {
	var out []string
	byInstance := slices.Clone(ms)
	slices.SortFunc(byInstance, func(a, b member) int { return strings.Compare(a.Instance, b.Instance) })
	for _, m := range byInstance {
		var ps []string
		for _, p := range plan[m.ID] {
			if p.Topic == "t" {
				ps = append(ps, fmt.Sprint(p.Partition))
			} else {
				ps = append(ps, p.String())
			}
		}
		out = append(out, m.Instance+":"+strings.Join(ps, ","))
	}
	return strings.Join(out, " ")
}

// mem is a member subscribing to topic "t" with id "id-<instance>".
func mem(instance string, gen int32, owned []int32, offsets map[int32]int64) member {
	m := member{ID: "id-" + instance, Instance: instance, Generation: gen, Topics: []string{"t"},
		Owned: map[string][]int32{}, Offsets: map[string]map[int32]int64{}}
	if owned != nil {
		m.Owned["t"] = owned
	}
	if offsets != nil {
		m.Offsets["t"] = offsets
	}
	return m
}

func TestAssign(t *testing.T) {
	for _, tc := range []struct {
		name    string
		members []member
		parts   []partition
		want    string
	}{
		{"fresh group, even", []member{mem("a", -1, nil, nil), mem("b", -1, nil, nil)}, parts("t", 4),
			"a:0,2 b:1,3"},
		{"fresh group, odd count", []member{mem("a", -1, nil, nil), mem("b", -1, nil, nil), mem("c", -1, nil, nil)}, parts("t", 8),
			"a:0,2,5 b:1,3,6 c:4,7"},
		{"sticky: everyone keeps what it owned", []member{mem("a", 4, []int32{1, 3}, nil), mem("b", 4, []int32{0, 2}, nil)}, parts("t", 4),
			"a:1,3 b:0,2"},
		{"a member joins: owners keep all but what the newcomer needs",
			[]member{mem("a", 4, []int32{0, 1, 2, 3}, nil), mem("b", 4, []int32{4, 5, 6, 7}, nil), mem("c", -1, nil, nil)}, parts("t", 8),
			"a:0,1,2 b:4,5,6 c:3,7"},
		{"a member leaves: its partitions are spread, the rest stay",
			[]member{mem("a", 4, []int32{0, 3, 6}, nil), mem("c", 4, []int32{2, 5}, nil)}, parts("t", 8),
			"a:0,3,4,6 c:1,2,5,7"},
		{"lag: a moving partition goes to the member whose state is furthest",
			[]member{mem("a", 4, []int32{0, 1}, map[int32]int64{0: 9, 1: 9, 2: 100}), mem("b", 4, []int32{3}, map[int32]int64{2: 500}),
				mem("c", -1, nil, nil)}, parts("t", 6),
			"a:0,1 b:2,3 c:4,5"},
		{"lag: a member restarted without its memory but with its state takes its partitions back",
			[]member{mem("a", 4, []int32{0, 1, 2}, map[int32]int64{0: 7, 1: 7, 2: 7}), mem("b", -1, nil, map[int32]int64{3: 70, 4: 80, 5: 90})}, parts("t", 6),
			"a:0,1,2 b:3,4,5"},
		{"lag: the most constrained partition first",
			// a has state for 0 and 1, b only for 0: b takes 0, a takes 1.
			[]member{mem("a", -1, nil, map[int32]int64{0: 100, 1: 100}), mem("b", -1, nil, map[int32]int64{0: 90})}, parts("t", 2),
			"a:1 b:0"},
		{"stale claim: the newer generation wins",
			[]member{mem("a", 3, []int32{0, 1}, nil), mem("b", 5, []int32{1, 2}, nil)}, parts("t", 4),
			"a:0,3 b:1,2"},
		{"an owner of too many keeps its most caught up ones",
			[]member{mem("a", 4, []int32{0, 1, 2, 3}, map[int32]int64{0: 1, 1: 50, 2: 3, 3: 40}), mem("b", -1, nil, nil)}, parts("t", 4),
			"a:1,3 b:0,2"},
		{"claims of partitions that no longer exist are ignored",
			[]member{mem("a", 4, []int32{0, 7, 9}, nil), mem("b", 4, []int32{1}, nil)}, parts("t", 2),
			"a:0 b:1"},
		{"more members than partitions", []member{mem("a", 4, []int32{0}, nil), mem("b", -1, nil, nil), mem("c", 4, []int32{1}, nil)}, parts("t", 2),
			"a:0 b: c:1"},
		{"no partitions", []member{mem("a", -1, nil, nil)}, nil, "a:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := assign(tc.members, tc.parts)
			if s := show(tc.members, got); s != tc.want {
				t.Fatalf("got  %s\nwant %s", s, tc.want)
			}
		})
	}
}

// TestAssignProperties: over random groups (owned partitions, state
// offsets, several topics), every partition is assigned exactly once,
// counts are balanced, the plan does not depend on the order members are
// listed in, and a partition whose owner is still there and within its
// quota stays with it.
func TestAssignProperties(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for iter := range 2000 {
		var ps []partition
		topics := []string{"t", "u"}[:1+rng.Intn(2)]
		for _, tp := range topics {
			ps = append(ps, parts(tp, rng.Intn(13))...)
		}
		n := 1 + rng.Intn(6)
		var ms []member
		for i := range n {
			m := member{ID: fmt.Sprintf("m%d-%d", rng.Intn(1000), i), Instance: fmt.Sprintf("p%d", i), Generation: int32(rng.Intn(3)),
				Topics: topics, Owned: map[string][]int32{}, Offsets: map[string]map[int32]int64{}}
			for _, p := range ps {
				if rng.Intn(n) == 0 {
					m.Owned[p.Topic] = append(m.Owned[p.Topic], p.Partition)
				}
				if rng.Intn(3) == 0 {
					if m.Offsets[p.Topic] == nil {
						m.Offsets[p.Topic] = map[int32]int64{}
					}
					m.Offsets[p.Topic][p.Partition] = int64(rng.Intn(100))
				}
			}
			ms = append(ms, m)
		}
		got := assign(ms, ps)
		seen := map[partition]string{}
		lo, hi := len(ps), 0
		for _, m := range ms {
			c := len(got[m.ID])
			lo, hi = min(lo, c), max(hi, c)
			for _, p := range got[m.ID] {
				if o, ok := seen[p]; ok {
					t.Fatalf("iteration %d: %v assigned to %s and %s", iter, p, o, m.ID)
				}
				seen[p] = m.ID
			}
		}
		if len(seen) != len(ps) {
			t.Fatalf("iteration %d: %d of %d partitions assigned", iter, len(seen), len(ps))
		}
		if hi-lo > 1 {
			t.Fatalf("iteration %d: unbalanced: %d to %d partitions: %s", iter, lo, hi, show(ms, got))
		}
		shuffled := slices.Clone(ms)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		rps := slices.Clone(ps)
		rng.Shuffle(len(rps), func(i, j int) { rps[i], rps[j] = rps[j], rps[i] })
		if again := assign(shuffled, rps); !maps.EqualFunc(got, again, slices.Equal) {
			t.Fatalf("iteration %d: not deterministic:\n%s\n%s", iter, show(ms, got), show(ms, again))
		}
		// Stickiness: a member that claimed no more than the smaller quota
		// keeps every partition it claimed alone.
		claimedBy := map[partition]int{}
		for _, m := range ms {
			for tp, qs := range m.Owned {
				for _, q := range qs {
					if slices.Contains(ps, partition{tp, q}) {
						claimedBy[partition{tp, q}]++
					}
				}
			}
		}
		for _, m := range ms {
			total := 0
			for tp, qs := range m.Owned {
				for _, q := range qs {
					if slices.Contains(ps, partition{tp, q}) {
						total++
					}
				}
			}
			if total > len(ps)/len(ms) {
				continue
			}
			for tp, qs := range m.Owned {
				for _, q := range qs {
					if p := (partition{tp, q}); claimedBy[p] == 1 && seen[p] != m.ID {
						t.Fatalf("iteration %d: %s owned %v alone and lost it: %s", iter, m.Instance, p, show(ms, got))
					}
				}
			}
		}
	}
}

// TestStrategyRoundTrip runs the strategy as sarama does: each member's
// SubscriptionUserData reaches the leader's Plan, whose AssignmentData
// reaches every member's OnAssignment; the next round is sticky, and every
// member sees the whole group.
func TestStrategyRoundTrip(t *testing.T) {
	offsets := map[string]map[int32]int64{"t": {5: 1234}}
	strategies := map[string]*Strategy{
		"m-a": NewStrategy("a", nil),
		"m-b": NewStrategy("b", func() map[string]map[int32]int64 { return offsets }),
	}
	topics := map[string][]int32{"t": {0, 1, 2, 3, 4, 5}}
	round := func(ids ...string) map[string]string {
		members := map[string]sarama.ConsumerGroupMemberMetadata{}
		for _, id := range ids {
			ud, err := strategies[id].SubscriptionUserData([]string{"t"})
			if err != nil {
				t.Fatal(err)
			}
			members[id] = sarama.ConsumerGroupMemberMetadata{Topics: []string{"t"}, UserData: ud}
		}
		leader := strategies[ids[0]]
		plan, err := leader.Plan(members, topics)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, id := range ids {
			ud, err := leader.AssignmentData(id, plan[id], 7)
			if err != nil {
				t.Fatal(err)
			}
			strategies[id].OnAssignment(&sarama.ConsumerGroupMemberAssignment{Topics: plan[id], UserData: ud}, 7)
			out[id] = fmt.Sprint(plan[id]["t"])
		}
		return out
	}
	first := round("m-a", "m-b")
	if !strings.Contains(first["m-b"], "5") {
		t.Fatalf("b's state covers partition 5 but it went elsewhere: %v", first)
	}
	strategies["m-c"] = NewStrategy("c", nil)
	second := round("m-c", "m-b", "m-a")
	third := round("m-b", "m-a", "m-c")
	if fmt.Sprint(second) != fmt.Sprint(third) {
		t.Fatalf("a round without changes moved partitions: %v then %v", second, third)
	}
	// c's two partitions come from a and b, which keep two each.
	for _, id := range []string{"m-a", "m-b"} {
		kept := 0
		for _, p := range strings.Fields(strings.Trim(first[id], "[]")) {
			if slices.Contains(strings.Fields(strings.Trim(second[id], "[]")), p) {
				kept++
			}
		}
		if kept != 2 {
			t.Fatalf("%s kept %d of its partitions when c joined: %v then %v", id, kept, first, second)
		}
	}
	want := fmt.Sprintf("[{a %v} {b %v} {c %v}]", parsed(second["m-a"]), parsed(second["m-b"]), parsed(second["m-c"]))
	for id, s := range strategies {
		if got := fmt.Sprint(s.Members()); got != want {
			t.Fatalf("%s sees the group as %s, want %s", id, got, want)
		}
	}
	if _, err := decodeMemberData([]byte{userDataVersion, 200}); err == nil {
		t.Fatal("truncated user data decoded")
	}
	if _, err := decodeMemberData(nil); err == nil {
		t.Fatal("empty user data decoded")
	}
}

// parsed turns "[0 3]" into "[t/0 t/3]".
func parsed(s string) []string {
	out := []string{}
	for _, f := range strings.Fields(strings.Trim(s, "[]")) {
		out = append(out, "t/"+f)
	}
	return out
}

// departed: a member gone from the group is fenced by whoever took one of
// its partitions, by nobody else; nothing is known without a plan.
func TestDeparted(t *testing.T) {
	prev := []GroupMember{{"a", []string{"t/0", "t/1"}}, {"b", []string{"t/2", "t/3"}}, {"c", []string{"t/4"}}, {"d", []string{}}}
	cur := []GroupMember{{"a", []string{"t/0", "t/1", "t/2"}}, {"c", []string{"t/3", "t/4"}}, {"e", []string{}}}
	for _, tc := range []struct {
		self string
		prev []GroupMember
		cur  []GroupMember
		want []string
	}{
		{"a", prev, cur, []string{"b"}},
		{"c", prev, cur, []string{"b"}},
		{"e", prev, cur, nil}, // took nothing of b's (and d owned nothing)
		{"a", nil, cur, nil},  // a's first assignment
		{"a", prev, nil, nil}, // no plan from the leader
		{"a", prev, prev, nil},
	} {
		if got := departed(tc.prev, tc.cur, tc.self); !slices.Equal(got, tc.want) {
			t.Errorf("departed(%v → %v) for %s = %v, want %v", tc.prev, tc.cur, tc.self, got, tc.want)
		}
	}
}
