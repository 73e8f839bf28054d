package planner

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/streamsql/streamsql/internal/suggest"
	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// Validator checks a table's WITH options for use as a source or a sink.
// The connectors registry implements it. An error that has an
// OptionKey() string method (or ColumnName() string) is reported at that
// option's (column's) position.
type Validator interface {
	Validate(opts map[string]string, schema types.Schema, sink bool) error
	// ValidateMetadata checks a METADATA column of a table of the connector.
	ValidateMetadata(connector, key string, t types.Type) error
	// SourceChangelog reports the kind of rows a source table with these
	// options emits.
	SourceChangelog(opts map[string]string) plan.Changelog
	// SinkAccepts reports whether a sink table with these options accepts
	// rows of changelog mode c.
	SinkAccepts(opts map[string]string, c plan.Changelog) bool
	// SinkUpsertsByKey reports whether a sink table with these options
	// writes updates and deletes by its PRIMARY KEY (overwriting and
	// deleting the key's row) rather than as rows of their own.
	SinkUpsertsByKey(opts map[string]string) bool
	// LookupCache checks that a table with these options can be the
	// lookup side of a lookup join and describes its cache for EXPLAIN.
	LookupCache(opts map[string]string) (string, error)
}

// Planner plans statements against a catalog. It is not safe for
// concurrent use.
type Planner struct {
	Catalog    *Catalog
	Connectors Validator
	// Parallelism is the number of subtasks of the parallel operators
	// (keyed operators and what follows them up to a sink); 0 means 1.
	Parallelism int
	// MaxParallelism is the number of key groups keyed state is split
	// into, the most subtasks a keyed operator can have; 0 means 128.
	MaxParallelism int
	// Updating configures the updating operators (GroupAgg): mini-batch
	// and state TTL, from the table.exec.* settings.
	Updating UpdatingOptions
	// Distributed plans jobs that run on several processes as one Kafka
	// consumer group (SET 'execution.distributed' = 'true'), refusing
	// what that cannot run yet (see checkDistributed).
	Distributed bool
	// TimeZone is the session time zone ('table.local-time-zone') in which
	// TIMESTAMP_LTZ values are seen as local times: by casts to and from
	// TIMESTAMP and STRING, the date functions, and windows over a
	// TIMESTAMP_LTZ time attribute. Nil is UTC.
	TimeZone *types.Zone
}

// New returns a planner over cat that validates connector options with v.
func New(cat *Catalog, v Validator) *Planner {
	return &Planner{Catalog: cat, Connectors: v}
}

// CreateTable adds a table to the catalog after checking its columns,
// watermark and connector.
func (p *Planner) CreateTable(s *parser.CreateTableStmt) error {
	if _, ok := p.Catalog.Table(s.Name.Name); ok {
		if s.IfNotExists {
			return nil
		}
		return errorf(s.Name.Pos, "table %q already exists", s.Name.Name)
	}
	if _, ok := p.Catalog.View(s.Name.Name); ok {
		return errorf(s.Name.Pos, "a view named %q already exists", s.Name.Name)
	}
	t := &Table{Name: s.Name.Name, Options: map[string]string{}, OptionPos: map[string]parser.Pos{}, Watermark: s.Watermark, DDL: s}
	seen := map[string]bool{}
	for _, c := range s.Columns {
		if seen[strings.ToLower(c.Name.Name)] {
			return errorf(c.Pos, "duplicate column %q", c.Name.Name)
		}
		seen[strings.ToLower(c.Name.Name)] = true
		col := Column{Name: c.Name.Name, Pos: c.Pos}
		switch {
		case c.Computed != nil:
			col.Kind, col.Expr = Computed, c.Computed
		case c.Metadata:
			col.Kind, col.MetadataKey, col.Virtual = Metadata, c.MetadataKey, c.Virtual
			if col.MetadataKey == "" {
				col.MetadataKey = c.Name.Name
			}
		}
		if c.Type != nil {
			ty, err := typeOf(c.Type)
			if err != nil {
				return err
			}
			col.Type = ty.WithNotNull(c.NotNull)
		}
		t.Columns = append(t.Columns, col)
	}
	for _, o := range s.Options {
		if _, dup := t.Options[o.Key]; dup {
			return errorf(o.Pos, "option %q given twice", o.Key)
		}
		t.Options[o.Key] = o.Value
		t.OptionPos[o.Key] = o.Pos
	}
	if _, ok := t.Options["connector"]; !ok {
		return errorf(s.Pos, "table %q has no 'connector' option in its WITH clause", t.Name)
	}
	if err := primaryKey(t, s); err != nil {
		return err
	}
	if err := partitionKeys(t, s); err != nil {
		return err
	}
	// Type computed columns and the watermark now, so errors surface at
	// CREATE time.
	phys := physicalScope(t)
	for i, c := range t.Columns {
		if c.Kind != Computed {
			continue
		}
		e, err := phys.bind(c.Expr)
		if err != nil {
			return err
		}
		t.Columns[i].Type = e.Type()
		t.Columns[i].ProcTime = isProcTime(e)
	}
	if _, err := p.watermark(t); err != nil {
		return err
	}
	for _, c := range t.Columns {
		if c.Kind == Metadata && p.Connectors != nil {
			if err := p.Connectors.ValidateMetadata(t.Options["connector"], c.MetadataKey, c.Type); err != nil {
				return errorf(c.Pos, "column %s: %v", c.Name, err)
			}
		}
	}
	p.Catalog.tables[key(t.Name)] = t
	return nil
}

// primaryKey checks the table's PRIMARY KEY (physical columns, each once)
// and hands it to the connector under plan.PrimaryKeyOption. The columns'
// types stay as declared: a connector keyed by them refuses a NULL key
// when it meets one (as Flink's not-null enforcer does by default).
func primaryKey(t *Table, s *parser.CreateTableStmt) error {
	if op, ok := t.OptionPos[plan.PrimaryKeyOption]; ok {
		return errorf(op, "option %q is reserved; declare PRIMARY KEY (…) NOT ENFORCED instead", plan.PrimaryKeyOption)
	}
	if s.PrimaryKey == nil {
		return nil
	}
	var names []string
	for _, id := range s.PrimaryKey.Columns {
		i := slices.IndexFunc(t.Columns, func(c Column) bool { return strings.EqualFold(c.Name, id.Name) })
		switch {
		case i < 0:
			return errorf(id.Pos, "PRIMARY KEY: table %q has no column %q", t.Name, id.Name)
		case t.Columns[i].Kind != Physical:
			return errorf(id.Pos, "PRIMARY KEY: column %q is not a physical column (metadata and computed columns cannot be keys)", id.Name)
		case slices.Contains(names, t.Columns[i].Name):
			return errorf(id.Pos, "PRIMARY KEY: column %q is named twice", id.Name)
		}
		names = append(names, t.Columns[i].Name)
	}
	t.Options[plan.PrimaryKeyOption] = strings.Join(names, ",")
	return nil
}

// partitionKeys checks the table's PARTITIONED BY (physical columns, each
// once, not every column) and hands it to the connector under
// plan.PartitionKeysOption.
func partitionKeys(t *Table, s *parser.CreateTableStmt) error {
	if op, ok := t.OptionPos[plan.PartitionKeysOption]; ok {
		return errorf(op, "option %q is reserved; declare PARTITIONED BY (…) instead", plan.PartitionKeysOption)
	}
	if s.PartitionedBy == nil {
		return nil
	}
	var names []string
	physical := 0
	for _, c := range t.Columns {
		if c.Kind == Physical {
			physical++
		}
	}
	for _, id := range s.PartitionedBy.Columns {
		i := slices.IndexFunc(t.Columns, func(c Column) bool { return strings.EqualFold(c.Name, id.Name) })
		switch {
		case i < 0:
			var cols []string
			for _, c := range t.Columns {
				cols = append(cols, c.Name)
			}
			msg := fmt.Sprintf("PARTITIONED BY: table %q has no column %q", t.Name, id.Name)
			if hint := suggest.Closest(id.Name, cols); hint != "" {
				msg += fmt.Sprintf("; did you mean %q?", hint)
			}
			return errorf(id.Pos, "%s", msg)
		case t.Columns[i].Kind != Physical:
			return errorf(id.Pos, "PARTITIONED BY: column %q is not a physical column (metadata and computed columns cannot be partition keys)", id.Name)
		case slices.Contains(names, t.Columns[i].Name):
			return errorf(id.Pos, "PARTITIONED BY: column %q is named twice", id.Name)
		}
		names = append(names, t.Columns[i].Name)
	}
	if len(names) == physical {
		return errorf(s.PartitionedBy.Pos, "PARTITIONED BY: every column of table %q is a partition key; the files would hold nothing", t.Name)
	}
	t.Options[plan.PartitionKeysOption] = strings.Join(names, ",")
	return nil
}

// CreateView adds a view after planning its query once to check it.
func (p *Planner) CreateView(s *parser.CreateViewStmt) error {
	if _, ok := p.Catalog.View(s.Name.Name); ok {
		if s.IfNotExists {
			return nil
		}
		return errorf(s.Name.Pos, "view %q already exists", s.Name.Name)
	}
	if _, ok := p.Catalog.Table(s.Name.Name); ok {
		return errorf(s.Name.Pos, "a table named %q already exists", s.Name.Name)
	}
	b := &builder{p: p}
	rel, err := b.planSelect(s.Query)
	if err != nil {
		return err
	}
	v := &View{Name: s.Name.Name, Query: s.Query, DDL: s}
	if len(s.Columns) > 0 {
		if len(s.Columns) != len(rel.cols) {
			return errorf(s.Pos, "view %q names %d columns but its query has %d", s.Name.Name, len(s.Columns), len(rel.cols))
		}
		for _, c := range s.Columns {
			v.Columns = append(v.Columns, c.Name)
		}
	}
	for i, c := range rel.cols {
		name := c.name
		if v.Columns != nil {
			name = v.Columns[i]
		}
		v.Schema.Fields = append(v.Schema.Fields, types.Field{Name: name, Type: c.t})
	}
	p.Catalog.views[key(v.Name)] = v
	return nil
}

// Drop removes a table or view.
func (p *Planner) Drop(s *parser.DropStmt) error {
	m := p.Catalog.tables
	what := "table"
	if s.View {
		what = "view"
	}
	var found bool
	if s.View {
		_, found = p.Catalog.views[key(s.Name.Name)]
		delete(p.Catalog.views, key(s.Name.Name))
	} else {
		_, found = m[key(s.Name.Name)]
		delete(m, key(s.Name.Name))
	}
	if !found && !s.IfExists {
		return p.unknownRelation(s.Name, what)
	}
	return nil
}

func (p *Planner) unknownRelation(n parser.Ident, what string) error {
	msg := fmt.Sprintf("unknown %s %q", what, n.Name)
	if hint := suggest.Closest(n.Name, p.Catalog.names()); hint != "" {
		msg += fmt.Sprintf("; did you mean %q?", hint)
	}
	return errorf(n.Pos, "%s", msg)
}

// Describe returns the schema of a table or view as rows of text, the
// first row being the header.
func (p *Planner) Describe(s *parser.DescribeStmt) ([][]string, error) {
	if t, ok := p.Catalog.Table(s.Name.Name); ok {
		return t.Describe(), nil
	}
	if v, ok := p.Catalog.View(s.Name.Name); ok {
		rows := [][]string{{"name", "type", "null", "extras"}}
		for _, f := range v.Schema.Fields {
			null := "TRUE"
			if f.Type.NotNull {
				null = "FALSE"
			}
			rows = append(rows, []string{f.Name, f.Type.Nullable().String(), null, ""})
		}
		return rows, nil
	}
	return nil, p.unknownRelation(s.Name, "table or view")
}

// Query plans a bare SELECT whose rows go to a client: the graph's one
// sink has connector "collect".
func (p *Planner) Query(s *parser.QueryStmt) (*plan.Graph, error) {
	b := &builder{p: p}
	rel, err := b.planQuery(s.Query)
	if err != nil {
		return nil, err
	}
	sink := &plan.Sink{Input: rel.node, Connector: "collect", Options: map[string]string{}}
	sink.Output = rel.schema()
	g, pos := &plan.Graph{Sinks: []*plan.Sink{sink}}, []parser.Pos{s.Pos}
	b.lateSinks(g, &pos, s.Pos)
	return p.finish(g, pos)
}

// Insert plans INSERT INTO table SELECT ….
func (p *Planner) Insert(s *parser.InsertStmt) (*plan.Graph, error) {
	b := &builder{p: p}
	sink, err := p.insertSink(b, s)
	if err != nil {
		return nil, err
	}
	g, pos := &plan.Graph{Sinks: []*plan.Sink{sink}}, []parser.Pos{s.Pos}
	b.lateSinks(g, &pos, s.Pos)
	return p.finish(g, pos)
}

// StatementSet plans the INSERTs of a statement set into one graph, one
// job: a sink per INSERT; INSERTs that read the same table share its
// Source node (one reader, one offset in checkpoints), and the nodes are
// numbered over the whole graph, so ids are unique across the set. An
// error in an INSERT names it by its position.
func (p *Planner) StatementSet(s *parser.StatementSetStmt) (*plan.Graph, error) {
	if len(s.Inserts) == 0 {
		return nil, errorf(s.Pos, "empty statement set: no INSERT to run")
	}
	b := &builder{p: p, shared: map[string]*plan.Source{}}
	g := &plan.Graph{}
	var pos []parser.Pos
	for _, ins := range s.Inserts {
		b.read = map[string]bool{}
		sink, err := p.insertSink(b, ins)
		if err != nil {
			return nil, inStatement(ins, err)
		}
		g.Sinks = append(g.Sinks, sink)
		pos = append(pos, ins.Pos)
	}
	b.lateSinks(g, &pos, s.Pos)
	return p.finish(g, pos)
}

// inStatement says which INSERT of a statement set err comes from.
func inStatement(ins *parser.InsertStmt, err error) error {
	var pe *parser.Error
	if errors.As(err, &pe) {
		what := fmt.Sprintf("INSERT INTO %s", ins.Table.Name)
		msg := strings.TrimPrefix(pe.Msg, what+": ")
		return &parser.Error{Pos: pe.Pos, Msg: fmt.Sprintf("%s (line %d, column %d): %s", what, ins.Pos.Line, ins.Pos.Column, msg)}
	}
	return errorf(ins.Pos, "in INSERT INTO %s: %v", ins.Table.Name, err)
}

// insertSink plans one INSERT with b into its Sink.
func (p *Planner) insertSink(b *builder, s *parser.InsertStmt) (*plan.Sink, error) {
	t, ok := p.Catalog.Table(s.Table.Name)
	if !ok {
		if _, isView := p.Catalog.View(s.Table.Name); isView {
			return nil, errorf(s.Table.Pos, "cannot INSERT INTO view %q", s.Table.Name)
		}
		return nil, p.unknownRelation(s.Table, "table")
	}
	if len(s.Columns) > 0 {
		return nil, errorf(s.Columns[0].Pos, "INSERT with a column list is not supported yet; select the table's columns in order")
	}
	rel, err := b.planQuery(s.Query)
	if err != nil {
		return nil, err
	}
	target := t.SinkSchema()
	if len(rel.cols) != target.Len() {
		return nil, errorf(s.Query.Pos, "INSERT INTO %s: the query has %d columns but the table has %d (%s)", t.Name, len(rel.cols), target.Len(), strings.Join(target.Names(), ", "))
	}
	if err := p.validateConnector(t, target, true); err != nil {
		return nil, err
	}
	// Cast the query's columns to the table's types where that is implicit.
	var exprs []plan.Expr
	identity := true
	for i, f := range target.Fields {
		qt := rel.cols[i].t
		ref := plan.Expr(&plan.ColumnRef{Index: i, Name: rel.cols[i].name, T: qt})
		if !types.Same(qt, f.Type) {
			if !implicitly(qt, f.Type) {
				return nil, errorf(itemPos(s.Query, i), "INSERT INTO %s: column %d (%s) has type %s, which cannot be written to column %q of type %s; add a CAST", t.Name, i+1, rel.cols[i].name, qt, f.Name, f.Type)
			}
			ref = coerce(ref, f.Type)
			identity = false
		}
		if f.Type.NotNull && !qt.NotNull {
			return nil, errorf(itemPos(s.Query, i), "INSERT INTO %s: column %q is NOT NULL but the query's column %d may be NULL", t.Name, f.Name, i+1)
		}
		exprs = append(exprs, ref)
	}
	in := rel.node
	if !identity {
		c := &plan.Calc{Input: in, Exprs: exprs}
		c.Output = target
		in = c
	}
	return sinkNode(t, in, target), nil
}

// sinkNode is the Sink writing the rows of in (of schema target, t's sink
// schema) into table t.
func sinkNode(t *Table, in plan.Node, target types.Schema) *plan.Sink {
	sink := &plan.Sink{Input: in, Table: t.Name, Connector: t.Options["connector"], Options: t.Options}
	sink.Output = target
	for _, c := range t.Columns {
		if c.Kind == Metadata && !c.Virtual {
			sink.Metadata = make([]string, 0, target.Len())
			for _, c := range t.Columns {
				switch {
				case c.Kind == Physical:
					sink.Metadata = append(sink.Metadata, "")
				case c.Kind == Metadata && !c.Virtual:
					sink.Metadata = append(sink.Metadata, c.MetadataKey)
				}
			}
			break
		}
	}
	return sink
}

// finish turns the graph the builder made into the physical plan: it
// rewrites it, distributes it (parallelism and exchanges), numbers its
// nodes and infers and checks their changelog modes. Errors point at the
// statement of the sink they concern: pos[i] is that of g.Sinks[i].
func (p *Planner) finish(g *plan.Graph, pos []parser.Pos) (*plan.Graph, error) {
	par, _, err := p.parallelism(pos[0])
	if err != nil {
		return nil, err
	}
	applyZone(g, p.TimeZone)
	g = p.pushProjections(distribute(optimize(g), par))
	assignIDs(g)
	if err := checkLateRows(g, pos); err != nil {
		return nil, err
	}
	if err := p.changelogs(g, pos); err != nil {
		return nil, err
	}
	if p.Distributed {
		if err := p.checkDistributed(g, pos); err != nil {
			return nil, err
		}
	}
	return g, nil
}

func itemPos(s *parser.Select, i int) parser.Pos {
	if i < len(s.Items) {
		return s.Items[i].Pos
	}
	return s.Pos
}

// Explain plans stmt (a query, an INSERT or a statement set) and prints
// its physical plan.
func (p *Planner) Explain(s *parser.ExplainStmt) (string, error) {
	var g *plan.Graph
	var err error
	switch st := s.Stmt.(type) {
	case *parser.QueryStmt:
		g, err = p.Query(st)
	case *parser.InsertStmt:
		g, err = p.Insert(st)
	case *parser.StatementSetStmt:
		g, err = p.StatementSet(st)
	default:
		return "", errorf(s.Pos, "EXPLAIN works on SELECT, INSERT and STATEMENT SET statements")
	}
	if err != nil {
		return "", err
	}
	return plan.Explain(g), nil
}

// validateConnector checks a table's options through the Validator and
// positions its error at the option or column at fault.
func (p *Planner) validateConnector(t *Table, schema types.Schema, sink bool) error {
	if p.Connectors == nil {
		return nil
	}
	err := p.Connectors.Validate(t.Options, schema, sink)
	if err == nil {
		return nil
	}
	pos := t.DDL.Pos
	var ok interface{ OptionKey() string }
	if errors.As(err, &ok) && ok.OptionKey() != "" {
		if op, found := t.OptionPos[ok.OptionKey()]; found {
			pos = op
		}
	}
	var cn interface{ ColumnName() string }
	if errors.As(err, &cn) && cn.ColumnName() != "" {
		for _, c := range t.Columns {
			if strings.EqualFold(c.Name, cn.ColumnName()) {
				pos = c.Pos
			}
		}
	}
	return errorf(pos, "table %s: %v", t.Name, err)
}

// assignIDs gives every node of g a stable id: nodes are numbered in
// post-order (inputs first, see plan.Graph.Nodes) as "N-kind", so the same
// query gets the same ids every time it is planned. An Exchange is not
// numbered: its id is its input's with "-exchange" appended, so inserting
// exchanges does not change the ids (and the checkpoints) of other nodes.
// A node feeding several exchanges (the aggregations of GROUPING SETS,
// each keyed on its own set) gives the second one the id with "-2"
// appended, the third "-3", and so on.
func assignIDs(g *plan.Graph) {
	n := 0
	exchanges := map[string]int{}
	for _, x := range g.Nodes() {
		if _, ok := x.(*plan.Exchange); ok {
			id := x.Inputs()[0].ID() + "-exchange"
			exchanges[id]++
			if k := exchanges[id]; k > 1 {
				id += fmt.Sprintf("-%d", k)
			}
			x.Props().OpID = id
			continue
		}
		n++
		x.Props().OpID = fmt.Sprintf("%d-%s", n, x.Kind())
	}
}
