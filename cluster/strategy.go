package cluster

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

// StrategyName is the group protocol name of Strategy: every process of a
// job must use it (the coordinator picks a protocol all members offer).
const StrategyName = "streamsql-sticky-lag"

// StateOffsets reports, per topic and partition, the input offset up to
// which this process's local state covers the partition (the offset its
// last local checkpoint holds for it): the assignment prefers the process
// whose state is the most caught up when a partition must move. A
// stateless job reports nothing (nil).
type StateOffsets func() map[string]map[int32]int64

// GroupMember is one member of the group as the leader's last assignment
// describes it: its instance id and the partitions it owns, as
// "topic/partition", sorted.
type GroupMember struct {
	InstanceID string
	Partitions []string
}

// Strategy is the group's sarama.BalanceStrategy: sticky and lag-aware.
//
// Each member puts in its JoinGroup user data its instance id, the
// partitions it owned at its last assignment (and that assignment's
// generation) and, per partition its local state covers, the offset it
// covers (StateOffsets). The leader then assigns (see assign):
//
//   - each partition to its previous owner when that member is still in
//     the group (sticky: its state is where it was), as long as the
//     counts stay balanced;
//   - every other partition to the member with spare room whose local
//     state covers it furthest (lag-aware: the least to restore), else to
//     the member with the fewest partitions;
//   - counts balanced (max − min ≤ 1) and the result deterministic (the
//     same members and data give the same plan, whichever member leads).
//
// The leader also sends every member the whole plan (by instance id) in
// the assignment's user data, so each process can show the group's
// members and what each owns (Members), and can tell which members left
// since its previous assignment: it fences (Config.Fence) those whose
// partitions it takes over.
//
// Strategy is eager (sarama's default protocol): see doc.go for why.
type Strategy struct {
	instance string
	offsets  StateOffsets
	// fence and log: Config.Fence, for the members that left (departed).
	fence FenceFunc
	log   *slog.Logger

	mu         sync.Mutex
	owned      map[string][]int32 // at the last assignment
	generation int32
	plan       []GroupMember // what the leader planned, sent to every member
	members    []GroupMember // the group as of the last assignment
}

// NewStrategy returns the strategy of the process with the given instance
// id; offsets may be nil (a stateless job).
func NewStrategy(instance string, offsets StateOffsets) *Strategy {
	return &Strategy{instance: instance, offsets: offsets, generation: -1}
}

// Name implements sarama.BalanceStrategy.
func (s *Strategy) Name() string { return StrategyName }

// SubscriptionUserData implements sarama.SubscriptionUserDataBalanceStrategy:
// what this member tells the leader at each JoinGroup.
func (s *Strategy) SubscriptionUserData(topics []string) ([]byte, error) {
	s.mu.Lock()
	d := memberData{Instance: s.instance, Generation: s.generation, Owned: map[string][]int32{}}
	for t, ps := range s.owned {
		d.Owned[t] = slices.Clone(ps)
	}
	s.mu.Unlock()
	if s.offsets != nil {
		d.Offsets = s.offsets()
	}
	return d.encode(), nil
}

// OnAssignment implements sarama.OnAssignmentBalanceStrategy: it records
// this member's new partitions (reported at the next join) and the group's
// members as the leader sent them, then fences the members that left and
// whose partitions it takes over (departed).
func (s *Strategy) OnAssignment(a *sarama.ConsumerGroupMemberAssignment, generation int32) {
	s.mu.Lock()
	s.owned, s.generation = map[string][]int32{}, generation
	for t, ps := range a.Topics {
		s.owned[t] = slices.Clone(ps)
	}
	prev := s.members
	s.members = nil
	if g, err := decodeGroup(a.UserData); err == nil {
		s.members = g
	}
	gone := departed(prev, s.members, s.instance)
	s.mu.Unlock()
	if s.fence == nil {
		return
	}
	for _, inst := range gone {
		// Now, before sarama fetches the partitions' committed offsets
		// (which a transaction the departed process left open holds
		// unstable, failing the session): between SyncGroup and the
		// session's first heartbeat, so bounded well within the session
		// timeout.
		ctx, cancel := context.WithTimeout(context.Background(), fenceTimeout)
		start := time.Now()
		if err := s.fence(ctx, inst); err != nil {
			s.log.Warn("cannot fence a process that left the group; its open transaction ends at its timeout", "departed", inst, "err", err)
		} else {
			s.log.Info("fenced a process that left the group", "departed", inst, "took", time.Since(start).Round(time.Millisecond))
		}
		cancel()
	}
}

// fenceTimeout bounds the fence of one departed member: it runs between
// the group's SyncGroup and the session's first heartbeat.
const fenceTimeout = 3 * time.Second

// departed returns the instance ids of the members of prev (the group at
// self's previous assignment) that cur (the new one) no longer has and
// that owned a partition self owns in cur: self takes over their work,
// so self fences them (each departed member is fenced by every process
// that took a partition of it; a fence is idempotent). Sorted.
func departed(prev, cur []GroupMember, self string) []string {
	if len(cur) == 0 {
		return nil // the leader sent no plan: nothing is known
	}
	now := map[string]bool{}
	mine := map[string]bool{}
	for _, m := range cur {
		now[m.InstanceID] = true
		if m.InstanceID == self {
			for _, p := range m.Partitions {
				mine[p] = true
			}
		}
	}
	var out []string
	for _, m := range prev {
		if now[m.InstanceID] || m.InstanceID == self {
			continue
		}
		if slices.ContainsFunc(m.Partitions, func(p string) bool { return mine[p] }) {
			out = append(out, m.InstanceID)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Members returns the group's members and their partitions as of this
// process's last assignment (nil before the first, or when the leader
// did not send them).
func (s *Strategy) Members() []GroupMember {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]GroupMember, len(s.members))
	for i, m := range s.members {
		out[i] = GroupMember{InstanceID: m.InstanceID, Partitions: slices.Clone(m.Partitions)}
	}
	return out
}

// Plan implements sarama.BalanceStrategy (run by the leader).
func (s *Strategy) Plan(members map[string]sarama.ConsumerGroupMemberMetadata, topics map[string][]int32) (sarama.BalanceStrategyPlan, error) {
	var ms []member
	for id, meta := range members {
		d, err := decodeMemberData(meta.UserData)
		if err != nil {
			// Another version of the job, or none: it still gets its share.
			d = memberData{}
		}
		ms = append(ms, member{ID: id, Instance: cmp.Or(d.Instance, id), Generation: d.Generation,
			Topics: meta.Topics, Owned: d.Owned, Offsets: d.Offsets})
	}
	var parts []partition
	for t, ps := range topics {
		for _, p := range ps {
			parts = append(parts, partition{t, p})
		}
	}
	got := assign(ms, parts)
	plan := sarama.BalanceStrategyPlan{}
	var group []GroupMember
	for _, m := range ms {
		gm := GroupMember{InstanceID: m.Instance, Partitions: []string{}}
		for _, p := range got[m.ID] {
			plan.Add(m.ID, p.Topic, p.Partition)
			gm.Partitions = append(gm.Partitions, p.String())
		}
		group = append(group, gm)
	}
	slices.SortFunc(group, func(a, b GroupMember) int { return cmp.Compare(a.InstanceID, b.InstanceID) })
	s.mu.Lock()
	s.plan = group
	s.mu.Unlock()
	return plan, nil
}

// AssignmentData implements sarama.BalanceStrategy: every member receives
// the whole plan, by instance id.
func (s *Strategy) AssignmentData(memberID string, topics map[string][]int32, generationID int32) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return encodeGroup(s.plan), nil
}

// partition is a topic's partition.
type partition struct {
	Topic     string
	Partition int32
}

func (p partition) String() string { return fmt.Sprintf("%s/%d", p.Topic, p.Partition) }

func comparePartitions(a, b partition) int {
	return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
}

// member is what the leader knows of a member.
type member struct {
	ID, Instance string
	Generation   int32
	Topics       []string
	Owned        map[string][]int32
	Offsets      map[string]map[int32]int64
}

func (m *member) subscribes(topic string) bool { return slices.Contains(m.Topics, topic) }

// offset is how far m's local state covers p, -1 when it holds none.
func (m *member) offset(p partition) int64 {
	if o, ok := m.Offsets[p.Topic][p.Partition]; ok {
		return o
	}
	return -1
}

// assign is the leader's plan: member id → partitions, each sorted.
//
//  1. Claims: a partition owned by several members (one's view is stale)
//     belongs to the claim of the newest generation, then the most caught
//     up state, then the smallest instance id.
//  2. Quotas: with n partitions and m members each gets n/m, and the
//     n mod m members with the most claims (then the smallest instance id)
//     one more.
//  3. Each member keeps its claims up to its quota (its most caught up
//     ones first).
//  4. The rest go, the most constrained first (fewest members with state
//     for it), to the member with room whose state covers it furthest,
//     else to the member with the most room left; ties by instance id.
//
// Members that do not subscribe to a partition's topic never get it; when
// members subscribe to different topics the quotas may not all be met and
// a partition no member with room subscribes to goes to the subscriber
// with the fewest partitions.
func assign(members []member, parts []partition) map[string][]partition {
	ms := slices.Clone(members)
	slices.SortFunc(ms, func(a, b member) int { return cmp.Or(cmp.Compare(a.Instance, b.Instance), cmp.Compare(a.ID, b.ID)) })
	parts = slices.Clone(parts)
	slices.SortFunc(parts, comparePartitions)
	parts = slices.Compact(parts)
	out := map[string][]partition{}
	if len(ms) == 0 {
		return out
	}
	exists := map[partition]bool{}
	for _, p := range parts {
		exists[p] = true
	}

	// 1. Claims.
	claim := map[partition]int{} // partition → index in ms
	for i := range ms {
		m := &ms[i]
		for t, ps := range m.Owned {
			for _, q := range ps {
				p := partition{t, q}
				if !exists[p] || !m.subscribes(t) {
					continue
				}
				j, ok := claim[p]
				if !ok {
					claim[p] = i
					continue
				}
				o := &ms[j]
				if c := cmp.Or(cmp.Compare(m.Generation, o.Generation), cmp.Compare(m.offset(p), o.offset(p))); c > 0 {
					claim[p] = i
				}
			}
		}
	}
	claims := make([][]partition, len(ms))
	for _, p := range parts {
		if i, ok := claim[p]; ok {
			claims[i] = append(claims[i], p)
		}
	}

	// 2. Quotas.
	quota := make([]int, len(ms))
	order := make([]int, len(ms))
	for i := range ms {
		quota[i], order[i] = len(parts)/len(ms), i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(len(claims[b]), len(claims[a])) })
	for _, i := range order[:len(parts)%len(ms)] {
		quota[i]++
	}

	// 3. Sticky.
	owner := map[partition]int{}
	count := make([]int, len(ms))
	for i := range ms {
		c := slices.Clone(claims[i])
		slices.SortStableFunc(c, func(a, b partition) int { return cmp.Compare(ms[i].offset(b), ms[i].offset(a)) })
		for _, p := range c[:min(len(c), quota[i])] {
			owner[p] = i
			count[i]++
		}
	}

	// 4. The rest, most constrained first.
	var rest []partition
	candidates := map[partition]int{}
	for _, p := range parts {
		if _, ok := owner[p]; ok {
			continue
		}
		rest = append(rest, p)
		for i := range ms {
			if count[i] < quota[i] && ms[i].offset(p) >= 0 && ms[i].subscribes(p.Topic) {
				candidates[p]++
			}
		}
	}
	rank := func(p partition) int {
		if n := candidates[p]; n > 0 {
			return n
		}
		return len(ms) + 1
	}
	slices.SortStableFunc(rest, func(a, b partition) int { return cmp.Compare(rank(a), rank(b)) })
	for _, p := range rest {
		best := -1
		for i := range ms {
			if count[i] >= quota[i] || !ms[i].subscribes(p.Topic) {
				continue
			}
			if best < 0 || ms[i].offset(p) > ms[best].offset(p) ||
				ms[i].offset(p) == ms[best].offset(p) && quota[i]-count[i] > quota[best]-count[best] {
				best = i
			}
		}
		if best < 0 { // no subscriber has room: the least loaded subscriber
			for i := range ms {
				if ms[i].subscribes(p.Topic) && (best < 0 || count[i] < count[best]) {
					best = i
				}
			}
		}
		if best < 0 {
			continue // nobody subscribes to the topic
		}
		owner[p] = best
		count[best]++
	}
	for _, p := range parts {
		if i, ok := owner[p]; ok {
			out[ms[i].ID] = append(out[ms[i].ID], p)
		}
	}
	return out
}

// memberData is a member's JoinGroup user data.
type memberData struct {
	Instance   string
	Generation int32
	Owned      map[string][]int32
	Offsets    map[string]map[int32]int64
}

// userDataVersion tags the encodings below.
const userDataVersion = 1

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func (d memberData) encode() []byte {
	b := []byte{userDataVersion}
	b = appendString(b, d.Instance)
	b = binary.AppendVarint(b, int64(d.Generation))
	topics := slices.Sorted(maps.Keys(d.Owned))
	b = binary.AppendUvarint(b, uint64(len(topics)))
	for _, t := range topics {
		b = appendString(b, t)
		ps := slices.Sorted(slices.Values(d.Owned[t]))
		b = binary.AppendUvarint(b, uint64(len(ps)))
		for _, p := range ps {
			b = binary.AppendVarint(b, int64(p))
		}
	}
	topics = slices.Sorted(maps.Keys(d.Offsets))
	b = binary.AppendUvarint(b, uint64(len(topics)))
	for _, t := range topics {
		b = appendString(b, t)
		ps := slices.Sorted(maps.Keys(d.Offsets[t]))
		b = binary.AppendUvarint(b, uint64(len(ps)))
		for _, p := range ps {
			b = binary.AppendVarint(b, int64(p))
			b = binary.AppendVarint(b, d.Offsets[t][p])
		}
	}
	return b
}

// reader decodes the encodings above, remembering the first error.
type reader struct {
	b   []byte
	err error
}

var errShort = errors.New("cluster: truncated user data")

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.err = errShort
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// count reads a length, refusing one larger than the bytes left could
// hold (a corrupt length must not allocate without bound).
func (r *reader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err = errShort
		return 0
	}
	return int(n)
}

func (r *reader) version() {
	if len(r.b) == 0 || r.b[0] != userDataVersion {
		r.err = fmt.Errorf("cluster: user data of an unknown version")
		return
	}
	r.b = r.b[1:]
}

func decodeMemberData(b []byte) (memberData, error) {
	r := &reader{b: b}
	r.version()
	d := memberData{Instance: r.string(), Generation: int32(r.varint()), Owned: map[string][]int32{}, Offsets: map[string]map[int32]int64{}}
	for range r.count() {
		t := r.string()
		for range r.count() {
			d.Owned[t] = append(d.Owned[t], int32(r.varint()))
		}
	}
	for range r.count() {
		t := r.string()
		d.Offsets[t] = map[int32]int64{}
		for range r.count() {
			p := int32(r.varint())
			d.Offsets[t][p] = r.varint()
		}
	}
	if r.err != nil {
		return memberData{}, r.err
	}
	return d, nil
}

func encodeGroup(g []GroupMember) []byte {
	b := []byte{userDataVersion}
	b = binary.AppendUvarint(b, uint64(len(g)))
	for _, m := range g {
		b = appendString(b, m.InstanceID)
		b = binary.AppendUvarint(b, uint64(len(m.Partitions)))
		for _, p := range m.Partitions {
			b = appendString(b, p)
		}
	}
	return b
}

func decodeGroup(b []byte) ([]GroupMember, error) {
	r := &reader{b: b}
	r.version()
	var g []GroupMember
	for range r.count() {
		m := GroupMember{InstanceID: r.string(), Partitions: []string{}}
		for range r.count() {
			m.Partitions = append(m.Partitions, r.string())
		}
		g = append(g, m)
	}
	if r.err != nil {
		return nil, r.err
	}
	return g, nil
}
