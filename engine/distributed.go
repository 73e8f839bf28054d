package engine

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/cluster"
	"github.com/streamsql/streamsql/cluster/stage"
	"github.com/streamsql/streamsql/connectors/kafka"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/plan"
)

// distributedKey is the SET key that runs a job on several processes as
// one Kafka consumer group (package cluster). Flink has no such key; its
// 'execution.runtime-mode' (streaming or batch) is another matter, so the
// name avoids "mode".
const distributedKey = "execution.distributed"

// repartitionKey is the SET key of the partition count of the internal
// topics of a job on several processes with a keyed stage.
const repartitionKey = "execution.distributed.repartition-partitions"

// distributed reports whether the query runs as one member of its job's
// consumer group.
func (q *ContinuousQuery) distributed() bool { return settingBool(q.settings, distributedKey) }

// Membership is what a process of a job on several processes owns now.
type Membership struct {
	Group      string
	InstanceID string
	Generation int32
	MemberID   string
	// Partitions are the source partitions this process reads, as
	// "topic/partition", sorted.
	Partitions []string
	// Rebalances counts the assignments this process received.
	Rebalances int64
	// Since is when the current assignment started.
	Since time.Time
	// Members are the group's members and the partitions each owns, as
	// the leader assigned them at the current generation.
	Members []cluster.GroupMember
	// Restored is how long this process took, at the start of the current
	// assignment, to restore the keyed state of the repartition
	// partitions it owns from the changelog topic, and RestoredEntries how
	// many state entries that gave (0 for a stateless job).
	Restored        time.Duration
	RestoredEntries int64
	// Restores says, per repartition partition of the assignment, whether
	// its state came from the local checkpoint or the changelog, and
	// ChangelogRecords how many changelog records the restore read.
	Restores         []PartitionRestore
	ChangelogRecords int64
	// KeyGroups are the key groups each repartition partition this
	// process owns holds (a job with a keyed stage), by "topic/partition".
	KeyGroups map[string]state.KeyGroupRange
	// Lag is, per partition this process reads (source and repartition
	// partitions), the records not read yet: the partition's high
	// watermark less the reader's position, as of the source's last fetch.
	Lag map[string]int64
}

// String is what SHOW JOBS shows of it: the instance, the generation,
// the assignments received and the partitions owned ("-" for nil).
func (m *Membership) String() string {
	if m == nil {
		return "-"
	}
	parts := strings.Join(m.Partitions, ",")
	if parts == "" {
		parts = "no partitions"
	}
	if len(m.Members) > 1 {
		var ms []string
		for _, g := range m.Members {
			ms = append(ms, fmt.Sprintf("%s[%s]", g.InstanceID, strings.Join(g.Partitions, ",")))
		}
		parts += "; group: " + strings.Join(ms, " ")
	}
	out := fmt.Sprintf("%s (generation %d, %d assignments): %s", m.InstanceID, m.Generation, m.Rebalances, parts)
	if len(m.KeyGroups) > 0 {
		var kgs []string
		for _, p := range m.Partitions {
			if r, ok := m.KeyGroups[p]; ok {
				kgs = append(kgs, fmt.Sprintf("%d-%d", r.Start, r.End-1))
			}
		}
		out += "; key groups " + strings.Join(kgs, ",")
	}
	if m.Lag != nil {
		var total int64
		var behind []string
		for _, p := range m.Partitions {
			if l := m.Lag[p]; l > 0 {
				total += l
				behind = append(behind, fmt.Sprintf("%s=%d", p, l))
			}
		}
		out += fmt.Sprintf("; lag %d", total)
		if len(behind) > 0 {
			out += " (" + strings.Join(behind, " ") + ")"
		}
	}
	if m.RestoredEntries > 0 {
		out += fmt.Sprintf("; restored %d state entries in %v", m.RestoredEntries, m.Restored.Round(time.Millisecond))
	}
	if len(m.Restores) > 0 {
		var local, changelog []string
		for _, r := range m.Restores {
			p := r.Partition[strings.LastIndexByte(r.Partition, '/')+1:]
			if r.From == "local" {
				local = append(local, p)
			} else {
				changelog = append(changelog, p)
			}
		}
		var from []string
		if len(local) > 0 {
			from = append(from, "local "+strings.Join(local, ","))
		}
		if len(changelog) > 0 {
			from = append(from, fmt.Sprintf("changelog %s (%d records)", strings.Join(changelog, ","), m.ChangelogRecords))
		}
		out += " (" + strings.Join(from, "; ") + ")"
	}
	return out
}

// membership holds a query's Membership while it runs distributed.
type membership struct {
	mu  sync.Mutex
	cur *Membership
	// split is the job's stages when it has a keyed stage; set before the
	// first assignment.
	split *stage.Split
}

// Membership returns what this process owns of the job, or nil when the
// query does not run on several processes (or has not joined yet).
func (q *ContinuousQuery) Membership() *Membership {
	q.member.mu.Lock()
	if q.member.cur == nil {
		q.member.mu.Unlock()
		return nil
	}
	c := *q.member.cur
	q.member.mu.Unlock()
	c.Partitions = slices.Clone(c.Partitions)
	c.Members = slices.Clone(c.Members)
	c.Restores = slices.Clone(c.Restores)
	c.KeyGroups = maps.Clone(c.KeyGroups)
	if lag := q.Stats().SourceLag; lag != nil {
		c.Lag = map[string]int64{}
		for _, p := range c.Partitions {
			if l, ok := lag[p]; ok {
				c.Lag[p] = l
			}
		}
	}
	return &c
}

// runDistributed runs the query as one member of the consumer group named
// by the job's name, a fresh job per assignment.
func (q *ContinuousQuery) runDistributed(ctx context.Context, fn RowFunc) error {
	graph := q.graph
	if stage.Keyed(q.graph) != nil {
		split, err := q.splitStages(ctx)
		if err != nil {
			return err
		}
		q.member.split, graph = split, split.Graph
	}
	cfg, err := q.clusterConfig(graph)
	if err != nil {
		return err
	}
	if q.member.split != nil {
		cfg.StateOffsets = q.stateOffsets
	}
	var rebalances int64
	cfg.OnAssign = func(m *exec.Member) {
		rebalances++
		var parts []string
		for t, ps := range m.Partitions {
			for _, p := range ps {
				parts = append(parts, fmt.Sprintf("%s/%d", t, p))
			}
		}
		slices.Sort(parts)
		var kgs map[string]state.KeyGroupRange
		if split := q.member.split; split != nil {
			kgs = map[string]state.KeyGroupRange{}
			for _, p := range m.Partitions[split.Repartition] {
				kgs[fmt.Sprintf("%s/%d", split.Repartition, p)] = state.RangeFor(int(p), split.Partitions, split.MaxParallelism)
			}
		}
		q.member.mu.Lock()
		q.member.cur = &Membership{Group: m.Group, InstanceID: m.InstanceID, Generation: m.Generation, MemberID: m.MemberID,
			Partitions: parts, Rebalances: rebalances, Since: time.Now(), KeyGroups: kgs}
		q.member.mu.Unlock()
	}
	cfg.OnMembers = func(ms []cluster.GroupMember) {
		q.member.mu.Lock()
		if q.member.cur != nil {
			q.member.cur.Members = ms
		}
		q.member.mu.Unlock()
	}
	// Before joining: a transaction a previous run of this process left
	// open would hold the group's offsets of its partitions unstable, and
	// the group could assign them to nobody until it timed out. The same
	// for a process that left the group and whose partitions this one
	// takes over (one that died and never comes back).
	fence := func(ctx context.Context, instance string) error {
		for _, sk := range graph.Sinks {
			if sk.Connector != kafka.Name && sk.Connector != kafka.UpsertName {
				continue
			}
			if err := kafka.FenceMember(ctx, sk.Options, q.name, instance); err != nil {
				return fmt.Errorf("job %q: table %q: %w", q.name, sk.Table, err)
			}
		}
		return nil
	}
	if err := fence(ctx, cfg.InstanceID); err != nil {
		return err
	}
	cfg.Fence = fence
	err = cluster.Run(ctx, cfg, func(ctx context.Context, m *exec.Member, revoked <-chan struct{}) error {
		err := q.run(ctx, fn, m, revoked)
		if errors.Is(err, exec.ErrStopped) {
			select {
			case <-revoked:
				return nil // stopped for the rebalance
			default:
				return err // STOP JOB: the process leaves the group
			}
		}
		return err
	})
	if errors.Is(err, cluster.ErrFinished) {
		return nil
	}
	return err
}

// clusterConfig derives the group's settings from the plan: the group is
// the job's name, the topics and client settings those of its kafka
// sources (the planner checked there are only such).
func (q *ContinuousQuery) clusterConfig(graph *plan.Graph) (cluster.Config, error) {
	cfg := cluster.Config{Group: q.name, InstanceID: q.e.instanceID(), Logger: q.e.opts.Logger}
	for _, n := range graph.Nodes() {
		src, ok := n.(*plan.Source)
		if !ok {
			continue
		}
		brokers, sc, err := kafka.GroupConfig(src.Options)
		if err != nil {
			return cfg, fmt.Errorf("job %q: table %q: %w", q.name, src.Table, err)
		}
		if cfg.Sarama == nil || cfg.Brokers == nil {
			cfg.Brokers, cfg.Sarama = brokers, sc
		}
		for _, t := range kafka.Topics(src.Options) {
			if !slices.Contains(cfg.Topics, t) {
				cfg.Topics = append(cfg.Topics, t)
			}
		}
	}
	if cfg.Sarama == nil {
		return cfg, fmt.Errorf("job %q: %s needs kafka source tables", q.name, distributedKey)
	}
	return cfg, nil
}

// instanceID is Options.InstanceID, else the host name and the state
// directory: stable across restarts of one process, distinct between
// processes of one host with their own state directories.
func (e *Engine) instanceID() string {
	if e.opts.InstanceID != "" {
		return e.opts.InstanceID
	}
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	dir, err := filepath.Abs(e.opts.StateDir)
	if err != nil {
		dir = e.opts.StateDir
	}
	return fmt.Sprintf("%s-%08x", host, fnv32(dir))
}

// fnv32 is FNV-1a of s: a short, stable tag of a path.
func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// splitStages splits the plan of a job with a keyed stage (package stage)
// and creates its internal topics: the repartition topic and the
// compacted changelog topic, of 'execution.distributed.repartition-partitions'
// partitions (default: the most partitions of a source topic).
func (q *ContinuousQuery) splitStages(ctx context.Context) (*stage.Split, error) {
	upstream := map[string]int{}
	var opts map[string]string
	for _, n := range q.graph.Nodes() {
		src, ok := n.(*plan.Source)
		if !ok {
			continue
		}
		for _, t := range kafka.Topics(src.Options) {
			c, err := kafka.PartitionCount(src.Options, t)
			if err != nil {
				return nil, fmt.Errorf("job %q: table %q: %w", q.name, src.Table, err)
			}
			upstream[t] = c
		}
		if opts == nil {
			opts = src.Options
		}
	}
	maxP := q.e.settingInt(q.settings, "pipeline.max-parallelism")
	if maxP <= 0 {
		maxP = state.DefaultMaxParallelism
	}
	split, err := stage.Plan(q.graph, q.name, q.e.settingInt(q.settings, repartitionKey), maxP, upstream)
	if err != nil {
		return nil, err
	}
	if err := kafka.EnsureTopic(opts, split.Repartition, split.Partitions, false); err != nil {
		return nil, fmt.Errorf("job %q: %w", q.name, err)
	}
	if err := kafka.EnsureTopic(opts, split.Changelog, split.Partitions, true); err != nil {
		return nil, fmt.Errorf("job %q: %w", q.name, err)
	}
	q.e.opts.Logger.Info("the job runs in two stages", "job", q.name, "operator", split.Operator,
		"repartition", split.Repartition, "changelog", split.Changelog, "partitions", split.Partitions)
	return split, nil
}

// restoreStages restores, before the job of assignment m starts, the keyed
// state of the repartition partitions m owns into the (fresh) store, as
// the checkpoint the job then restores: from local (what readLocalState
// found current in the local checkpoint), the rest from their changelog
// partitions. It records the positions the restored checkpoint covers and
// returns the graph to run, which writes the operator's state catalog
// into the changelog partitions it owns and records the positions of its
// checkpoints.
func (q *ContinuousQuery) restoreStages(ctx context.Context, store *checkpoint.Store, m *exec.Member, local *localState) (*plan.Graph, error) {
	split := q.member.split
	if store == nil {
		return nil, fmt.Errorf("job %q: a job on several processes with a keyed stage needs checkpoints", q.name)
	}
	if local == nil {
		local = &localState{valid: map[int32]int64{}, entries: map[string][]byte{}}
	}
	start := time.Now()
	entries := local.entries
	catalog := local.catalog
	var records int64
	var restores []PartitionRestore
	for _, p := range m.Partitions[split.Repartition] {
		name := fmt.Sprintf("%s/%d", split.Repartition, p)
		if n, ok := local.valid[p]; ok {
			restores = append(restores, PartitionRestore{Partition: name, From: "local", Entries: n, Took: local.took})
			continue
		}
		pstart := time.Now()
		var live int64
		n, err := kafka.ReadChangelog(ctx, split.Options, q.name, split.Repartition, split.Changelog, p, func(key, value []byte) error {
			if len(key) == 2 && key[0] == 0x80 && key[1] == 0 {
				if value != nil {
					catalog = slices.Clone(value)
				}
				return nil
			}
			_, had := entries[string(key)]
			if value == nil {
				if had {
					live--
				}
				delete(entries, string(key))
			} else {
				if !had {
					live++
				}
				entries[string(key)] = slices.Clone(value)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("job %q: restore from the changelog: %w", q.name, err)
		}
		records += n
		restores = append(restores, PartitionRestore{Partition: name, From: "changelog", Entries: live, Records: n, Took: time.Since(pstart)})
	}
	var restored uint64
	if len(entries) > 0 {
		if catalog == nil {
			return nil, fmt.Errorf("job %q: changelog %q holds state without its catalog entry", q.name, split.Changelog)
		}
		restored = store.NextID()
		pend := store.Begin(restored)
		w := pend.Operator(split.Operator)
		if err := w.Set([]byte{0x80, 0}, catalog); err != nil {
			return nil, err
		}
		for k, v := range entries {
			if err := w.Set([]byte(k), v); err != nil {
				return nil, err
			}
		}
		if _, err := pend.Commit(ctx); err != nil {
			return nil, fmt.Errorf("job %q: restore: %w", q.name, err)
		}
	}
	path, err := q.positionsPath()
	if err != nil {
		return nil, err
	}
	if restored > 0 && len(local.current) > 0 {
		// The restored checkpoint holds what the changelog held at these
		// positions (read at or after them).
		pos := kafka.ChangelogPositions{Checkpoint: int64(restored), Changelog: split.Changelog, Owner: split.Repartition,
			Partitions: local.current}
		if err := kafka.WritePositions(path, pos); err != nil {
			q.e.opts.Logger.Warn("cannot record the changelog positions of the restored checkpoint", "job", q.name, "err", err)
		}
	}
	took := time.Since(start)
	var fromLocal, fromChangelog []string
	for _, r := range restores {
		if r.From == "local" {
			fromLocal = append(fromLocal, r.Partition)
		} else {
			fromChangelog = append(fromChangelog, r.Partition)
		}
	}
	q.e.opts.Logger.Info("restored the keyed state", "job", q.name, "local", fromLocal, "changelog", fromChangelog,
		"changelog_records", records, "entries", len(entries), "took", took.Round(time.Millisecond))
	q.member.mu.Lock()
	if q.member.cur != nil {
		q.member.cur.Restored, q.member.cur.RestoredEntries = took, int64(len(entries))
		q.member.cur.Restores, q.member.cur.ChangelogRecords = restores, records
	}
	q.member.mu.Unlock()
	return split.WithCatalog(hex.EncodeToString(catalog), path), nil
}
