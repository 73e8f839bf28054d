package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/streamsql/streamsql/cluster"
	"github.com/streamsql/streamsql/connectors/kafka"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/plan"
)

// distributedKey is the SET key that runs a job on several processes as
// one Kafka consumer group (package cluster). Flink has no such key; its
// 'execution.runtime-mode' (streaming or batch) is another matter, so the
// name avoids "mode".
const distributedKey = "execution.distributed"

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
	return fmt.Sprintf("%s (generation %d, %d assignments): %s", m.InstanceID, m.Generation, m.Rebalances, parts)
}

// membership holds a query's Membership while it runs distributed.
type membership struct {
	mu  sync.Mutex
	cur *Membership
}

// Membership returns what this process owns of the job, or nil when the
// query does not run on several processes (or has not joined yet).
func (q *ContinuousQuery) Membership() *Membership {
	q.member.mu.Lock()
	defer q.member.mu.Unlock()
	if q.member.cur == nil {
		return nil
	}
	c := *q.member.cur
	c.Partitions = slices.Clone(c.Partitions)
	c.Members = slices.Clone(c.Members)
	return &c
}

// runDistributed runs the query as one member of the consumer group named
// by the job's name, a fresh job per assignment.
func (q *ContinuousQuery) runDistributed(ctx context.Context, fn RowFunc) error {
	cfg, err := q.clusterConfig()
	if err != nil {
		return err
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
		q.member.mu.Lock()
		q.member.cur = &Membership{Group: m.Group, InstanceID: m.InstanceID, Generation: m.Generation, MemberID: m.MemberID,
			Partitions: parts, Rebalances: rebalances, Since: time.Now()}
		q.member.mu.Unlock()
	}
	cfg.OnMembers = func(ms []cluster.GroupMember) {
		q.member.mu.Lock()
		if q.member.cur != nil {
			q.member.cur.Members = ms
		}
		q.member.mu.Unlock()
	}
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
func (q *ContinuousQuery) clusterConfig() (cluster.Config, error) {
	cfg := cluster.Config{Group: q.name, InstanceID: q.e.instanceID(), Logger: q.e.opts.Logger}
	for _, n := range q.graph.Nodes() {
		src, ok := n.(*plan.Source)
		if !ok {
			continue
		}
		brokers, sc, err := kafka.GroupConfig(src.Options)
		if err != nil {
			return cfg, fmt.Errorf("job %q: table %q: %w", q.name, src.Table, err)
		}
		if cfg.Sarama == nil {
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
