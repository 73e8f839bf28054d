// Package stage splits the plan of a stateful job on several processes
// into its stages, at the hash exchange before its keyed operator (a
// keyed window aggregation, a non-windowed GROUP BY, a Top-N partitioned
// by a key, or a regular join, whose two inputs share one repartition
// topic: see join.go): stage 0 reads the source partitions, runs the stateless chain
// and writes every row into the repartition topic
// <job>-<operator>-repartition, in the partition that owns its key group;
// stage 1 reads the repartition partitions, runs the keyed operator and
// whatever follows it, and writes the sink. A task is (stage, partition);
// one consumer group over the source and repartition topics assigns both
// stages' tasks to the processes, and each process runs the tasks it owns
// as one job of two disconnected branches.
//
// The keyed operator's state is checkpointed locally and, in stage 1's
// sink transaction, to the compacted changelog topic
// <job>-<operator>-changelog, one partition per repartition partition
// (the same key-group range); a process that gains a repartition
// partition restores its state from the changelog before it processes
// anything. See package kafka's stage.go for the records.
package stage

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/streamsql/streamsql/connectors/kafka"
	"github.com/streamsql/streamsql/plan"
)

// Split is a plan split into its stages.
type Split struct {
	// Graph holds both stages: its sinks are stage 1's (the job's sink,
	// first) and stage 0's (the repartition writer).
	Graph *plan.Graph
	// Operator is the keyed operator's id, whose state the changelog holds.
	Operator string
	// Repartition and Changelog are the internal topics, each with
	// Partitions partitions.
	Repartition, Changelog string
	Partitions             int
	// MaxParallelism is the number of key groups: repartition partition p
	// owns state.RangeFor(p, Partitions, MaxParallelism).
	MaxParallelism int
	// Upstream are the source topics with their partition counts.
	Upstream map[string]int
	// Options are the client options of the first source table, for the
	// internal topics.
	Options map[string]string
}

// Keyed returns the keyed operator of g that needs a repartition hop (its
// window aggregation, GROUP BY aggregation, Top-N or regular join), or nil
// when g is stateless.
func Keyed(g *plan.Graph) plan.Node {
	for _, n := range g.Nodes() {
		if _, ok := n.(*plan.Join); ok || len(keysOf(n)) > 0 {
			return n
		}
	}
	return nil
}

// keysOf returns the input columns a keyed operator's state is keyed by,
// nil when n is not one. Each of these operators writes its changed keyed
// state entries (and deletes, for fired windows, expired groups and
// emptied or expired Top-N partitions) at every barrier, which is what the
// changelog records.
func keysOf(n plan.Node) []int {
	switch n := n.(type) {
	case *plan.WindowAgg:
		return n.Keys
	case *plan.GroupAgg:
		return n.Keys
	case *plan.Rank:
		return n.Partition
	}
	return nil
}

// Plan splits g, a plan the planner accepted for a job on several
// processes (one sink; one keyed operator, w), for job: with
// partitions repartition partitions (0: the most partitions of a source
// topic), maxParallelism key groups, and upstream the partition count of
// every source topic.
func Plan(g *plan.Graph, job string, partitions, maxParallelism int, upstream map[string]int) (*Split, error) {
	w := Keyed(g)
	if w == nil || len(g.Sinks) != 1 {
		return nil, fmt.Errorf("job %q: no keyed operator to split the plan at", job)
	}
	if partitions <= 0 {
		for _, n := range upstream {
			partitions = max(partitions, n)
		}
	}
	if partitions > maxParallelism {
		return nil, fmt.Errorf("job %q: %d repartition partitions exceed the %d key groups (pipeline.max-parallelism)", job, partitions, maxParallelism)
	}
	sink := g.Sinks[0]
	// The chain from the sink down to w: single-input nodes that rows of
	// stage 1 only reach.
	var chain []plan.Node
	for n := sink.Input; n != plan.Node(w); {
		ins := n.Inputs()
		if len(ins) != 1 {
			return nil, fmt.Errorf("job %q: %s reads rows that bypass the keyed operator %s; a job on several processes cannot run it yet", job, n.ID(), w.ID())
		}
		chain = append(chain, n)
		n = ins[0]
	}
	var in plan.Node
	var keys []int
	var rebuild func(reader plan.Node) plan.Node
	if j, ok := w.(*plan.Join); ok {
		var err error
		if in, keys, rebuild, err = joinStages(j); err != nil {
			return nil, fmt.Errorf("job %q: %w", job, err)
		}
	} else {
		in, keys = w.Inputs()[0], keysOf(w)
		ex, _ := in.(*plan.Exchange)
		if ex != nil {
			in = ex.Input
		}
		rebuild = func(reader plan.Node) plan.Node {
			if ex != nil {
				reader = ex.WithInputs(reader)
			}
			return w.WithInputs(reader)
		}
	}
	var opts map[string]string
	plan.Walk(in, func(n plan.Node) {
		if src, ok := n.(*plan.Source); ok && opts == nil {
			opts = src.Options
		}
	})
	if opts == nil {
		return nil, fmt.Errorf("job %q: the keyed operator %s reads no source table", job, w.ID())
	}
	base := kafka.ClientOptions(opts, false)
	s := &Split{Operator: w.ID(), Repartition: fmt.Sprintf("%s-%s-repartition", job, w.ID()),
		Changelog: fmt.Sprintf("%s-%s-changelog", job, w.ID()), Partitions: partitions, MaxParallelism: maxParallelism,
		Upstream: upstream, Options: base}
	var ups []string
	for _, t := range slices.Sorted(maps.Keys(upstream)) {
		ups = append(ups, fmt.Sprintf("%s:%d", t, upstream[t]))
	}
	var keyCols []string
	for _, k := range keys {
		keyCols = append(keyCols, strconv.Itoa(k))
	}
	maxP := strconv.Itoa(maxParallelism)

	// Stage 0: the stateless chain into the repartition topic.
	wopts := kafka.ClientOptions(opts, true)
	maps.Copy(wopts, map[string]string{
		"connector": "kafka", "topic": s.Repartition, "format": "json",
		"sink.delivery-guarantee": "exactly-once", "sink.transactional-id-prefix": job + "-repartition",
		kafka.OptRepartitionKeys: strings.Join(keyCols, ";"), kafka.OptMaxParallelism: maxP, kafka.OptUpstream: strings.Join(ups, ";"),
	})
	writer := &plan.Sink{Input: in, Table: s.Repartition, Connector: "kafka", Options: wopts}
	writer.Base = plan.Base{OpID: w.ID() + "-repartition-sink", Output: in.Schema(), Parallelism: 1, Changelog: plan.AppendOnly}

	// Stage 1: the repartition topic into the keyed operator and the sink.
	ropts := maps.Clone(base)
	maps.Copy(ropts, map[string]string{
		"connector": "kafka", "topic": s.Repartition, "format": "json", "scan.startup.mode": "earliest-offset",
		"properties.isolation.level": "read_committed", kafka.OptUpstream: strings.Join(ups, ";"),
	})
	reader := &plan.Source{Table: s.Repartition, Connector: "kafka", Options: ropts}
	reader.Base = plan.Base{OpID: w.ID() + "-repartition-source", Output: in.Schema(), Parallelism: 1, Changelog: plan.AppendOnly}
	n := rebuild(reader)
	for i := len(chain) - 1; i >= 0; i-- {
		n = chain[i].WithInputs(n)
	}
	out := sink.WithInputs(n).(*plan.Sink)
	out.Options = maps.Clone(out.Options)
	maps.Copy(out.Options, map[string]string{
		kafka.OptChangelogTopic: s.Changelog, kafka.OptChangelogOperator: w.ID(), kafka.OptChangelogOwner: s.Repartition,
		kafka.OptMaxParallelism: maxP,
	})
	s.Graph = &plan.Graph{Sinks: []*plan.Sink{out, writer}}
	return s, nil
}

// WithCatalog returns the split's graph with the keyed operator's state
// catalog (hex) given to stage 1's sink, which writes it into every
// changelog partition the process owns, and, when positions is not empty,
// the file in which that sink records the changelog positions each
// committed checkpoint covers (kafka.OptChangelogPositions).
func (s *Split) WithCatalog(hexCatalog, positions string) *plan.Graph {
	if hexCatalog == "" && positions == "" {
		return s.Graph
	}
	out := *s.Graph.Sinks[0]
	out.Options = maps.Clone(out.Options)
	if hexCatalog != "" {
		out.Options[kafka.OptChangelogCatalog] = hexCatalog
	}
	if positions != "" {
		out.Options[kafka.OptChangelogPositions] = positions
	}
	return &plan.Graph{Sinks: []*plan.Sink{&out, s.Graph.Sinks[1]}}
}
