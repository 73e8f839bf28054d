package plan

// Task is a chain of nodes that run together, one goroutine per subtask
// (or several tasks in one goroutine): rows pass from one node of the
// chain to the next by a function call, without a channel. Between tasks
// rows travel through channels: into a task headed by an Exchange they are
// repartitioned by it; into any other head they go forward, subtask i to
// subtask i (the planner gives both ends the same parallelism).
type Task struct {
	// Nodes holds the chain, head first; every node after the head reads
	// the node before it and nothing else.
	Nodes []Node
	// Parallelism is the number of subtasks, that of every node of the
	// chain.
	Parallelism int
}

// ID is the task's id: its head node's.
func (t Task) ID() string { return t.Nodes[0].ID() }

// Head is the task's first node: a source, an exchange, a node with
// several inputs or one whose input feeds several consumers.
func (t Task) Head() Node { return t.Nodes[0] }

// Tail is the task's last node, whose output leaves the task (or a sink).
func (t Task) Tail() Node { return t.Nodes[len(t.Nodes)-1] }

// Chained reports whether node n runs in the task of its input, right
// after it: the one rule of operator chaining, used by EXPLAIN and the
// runtime alike. consumers is the number of nodes reading n's input. A
// node is chained when it has exactly one input, that input feeds only
// n, both have the same parallelism, and n is not an Exchange, unless both
// ends run as one subtask (a 1→1 exchange passes rows on unchanged).
func Chained(n Node, consumers int) bool {
	ins := n.Inputs()
	if len(ins) != 1 || consumers != 1 {
		return false
	}
	p, q := parallelism(n), parallelism(ins[0])
	if p != q {
		return false
	}
	if _, ok := n.(*Exchange); ok {
		return p == 1
	}
	return true
}

// Tasks splits the graph into tasks by Chained, in the order of their
// heads in g.Nodes() (so a task comes after the tasks it reads from).
func Tasks(g *Graph) []Task {
	nodes := g.Nodes()
	consumers := map[Node]int{}
	for _, n := range nodes {
		for _, in := range n.Inputs() {
			consumers[in]++
		}
	}
	var tasks []Task
	index := map[Node]int{} // node -> its task
	for _, n := range nodes {
		if ins := n.Inputs(); len(ins) == 1 && Chained(n, consumers[ins[0]]) {
			t := index[ins[0]]
			tasks[t].Nodes = append(tasks[t].Nodes, n)
			index[n] = t
			continue
		}
		index[n] = len(tasks)
		tasks = append(tasks, Task{Nodes: []Node{n}, Parallelism: parallelism(n)})
	}
	return tasks
}

// parallelism is n's parallelism, 1 when not planned.
func parallelism(n Node) int { return max(n.Props().Parallelism, 1) }
