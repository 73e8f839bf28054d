package exec

import (
	"errors"
	"fmt"
	"time"

	"github.com/streamsql/streamsql/exec/state"
	"github.com/streamsql/streamsql/plan"
)

// task is a chain of plan nodes that run together, as Flink chains
// operators: consecutive nodes with the same parallelism and no exchange
// between them. A task runs as parallelism subtasks, each driven by one
// goroutine; tasks are connected by channels (edges).
type task struct {
	id          string // the id of its first node
	nodes       []plan.Node
	parallelism int
	inputs      []*edge // the edges into its first node (none for a source task)
	subs        []*subtask
}

// edge connects a node of one task to the first node of another.
type edge struct {
	from    *task
	fromN   plan.Node
	to      *task
	toInput int // the index among to's first node's inputs
	dist    dist
	keys    []int
}

// parallelismOf is the number of subtasks node n runs as (1 when not
// planned).
func parallelismOf(n plan.Node) int { return max(1, n.Props().Parallelism) }

// splitTasks cuts the graph into tasks by plan.Tasks (the one chaining
// rule, which EXPLAIN prints too) and derives the edges into each task's
// first node: an exchange's distribution, else forward between equal
// parallelisms, single into one subtask, rebalance otherwise.
func splitTasks(g *plan.Graph) ([]*task, map[plan.Node]*task) {
	var tasks []*task
	of := map[plan.Node]*task{}
	for _, pt := range plan.Tasks(g) {
		head := pt.Head()
		t := &task{id: head.ID(), nodes: pt.Nodes, parallelism: max(1, pt.Parallelism)}
		for _, n := range pt.Nodes {
			of[n] = t
		}
		for i, in := range head.Inputs() {
			e := &edge{from: of[in], fromN: in, to: t, toInput: i, dist: distForward}
			switch x := head.(type) {
			case *plan.Exchange:
				if x.Dist == plan.Hash {
					e.dist, e.keys = distHash, x.Keys
				} else {
					e.dist = distSingle
				}
			default:
				switch {
				case t.parallelism == 1:
					e.dist = distSingle
				case t.parallelism != e.from.parallelism:
					e.dist = distRebalance
				}
			}
			t.inputs = append(t.inputs, e)
		}
		tasks = append(tasks, t)
	}
	return tasks, of
}

// Build builds the job of a plan graph: it cuts the graph into tasks,
// builds every subtask's operators (through Options.Operators), sources
// and sinks (through Options.Connectors), and connects the tasks with
// bounded channels. Nothing runs or opens until Run.
func Build(g *plan.Graph, opts Options) (*Job, error) {
	opts = opts.withDefaults()
	if opts.Operators == nil {
		return nil, errors.New("exec: Options.Operators is required")
	}
	if len(g.Sinks) == 0 {
		return nil, errors.New("exec: the plan has no sink")
	}
	j := &Job{opts: opts, nextID: 1, events: make(chan event, 64), wake: make(chan struct{}, 1),
		ended: map[plan.Node]bool{}, endedSubtasks: map[plan.Node]int{}}
	if opts.Store != nil {
		j.coord = newCoordinator(opts)
	}
	j.tasks, j.taskOf = splitTasks(g)
	j.graph = g
	j.keepsLate = map[plan.Node]bool{}
	for _, n := range g.Nodes() {
		j.nodeIDs = append(j.nodeIDs, n.ID())
		if _, ok := n.(*plan.LateRows); ok {
			j.keepsLate[n.Inputs()[0]] = true
		}
	}
	for _, t := range j.tasks {
		for i := 0; i < t.parallelism; i++ {
			s, err := j.newSubtask(t, i)
			if err != nil {
				j.Close()
				return nil, err
			}
			t.subs = append(t.subs, s)
		}
	}
	if err := j.connect(); err != nil {
		j.Close()
		return nil, err
	}
	return j, nil
}

// connect creates the channels of every edge: one per pair of a sending
// and a receiving subtask (one per subtask for a forward edge).
func (j *Job) connect() error {
	for _, t := range j.tasks {
		for _, e := range t.inputs {
			for a, from := range e.from.subs {
				out := &outEdge{dist: e.dist, maxP: j.opts.MaxParallelism, alloc: j.opts.Alloc}
				_, out.late = t.nodes[0].(*plan.LateRows)
				if e.dist == distHash {
					h, err := state.NewKeyHasher(e.fromN.Schema(), e.keys)
					if err != nil {
						return fmt.Errorf("exec: exchange into %s: %w", t.id, err)
					}
					out.hasher = h
				}
				for b, to := range t.subs {
					if e.dist == distForward && len(t.subs) > 1 && a != b {
						continue
					}
					c := newChannel()
					out.chans = append(out.chans, c)
					to.inputs = append(to.inputs, input{ch: c, in: e.toInput})
					j.channels = append(j.channels, c)
				}
				out.idx = make([][]int32, len(out.chans))
				from.node(e.fromN).edges = append(from.node(e.fromN).edges, out)
			}
		}
	}
	for _, t := range j.tasks {
		for _, s := range t.subs {
			if len(s.inputs) > 1 {
				s.notify = make(chan struct{}, 1)
				for _, in := range s.inputs {
					in.ch.notify = s.notify
				}
			}
			s.valve = newWatermarkValve(len(s.inputs))
			s.align = newAligner(max(1, len(s.inputs)), j.opts.CheckpointingMode)
		}
	}
	return nil
}

// TaskInfo describes one task of a job, for EXPLAIN-like displays.
type TaskInfo struct {
	ID          string   // the id of the task's first node
	Operators   []string // the ids of its nodes, in chain order
	Parallelism int
	// Inputs names the tasks feeding it and how ("2-calc hash"), in input
	// order.
	Inputs []string
	// Alignment is how long the task's last completed barrier waited for
	// all its inputs (the longest over its subtasks).
	Alignment time.Duration
}

// Tasks describes the job's tasks, sources first.
func (j *Job) Tasks() []TaskInfo {
	out := make([]TaskInfo, 0, len(j.tasks))
	for _, t := range j.tasks {
		ti := TaskInfo{ID: t.id, Parallelism: t.parallelism}
		for _, n := range t.nodes {
			ti.Operators = append(ti.Operators, n.ID())
		}
		for _, e := range t.inputs {
			ti.Inputs = append(ti.Inputs, fmt.Sprintf("%s %s", e.fromN.ID(), e.dist))
		}
		for _, s := range t.subs {
			ti.Alignment = max(ti.Alignment, time.Duration(s.alignment.Load()))
		}
		out = append(out, ti)
	}
	return out
}
