package planner

import (
	"fmt"
	"sort"
	"strings"

	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// ColumnKind tells how a table column gets its values.
type ColumnKind uint8

// The column kinds.
const (
	Physical ColumnKind = iota // read from the connector's records
	Metadata                   // read from the connector's metadata (METADATA FROM)
	Computed                   // computed from other columns (name AS expr)
)

// Column is one column of a table.
type Column struct {
	Name        string
	Type        types.Type
	Kind        ColumnKind
	MetadataKey string
	Virtual     bool
	Expr        parser.Expr // for a computed column
	// ProcTime marks a processing-time attribute: a computed column
	// `name AS PROCTIME()`, of type TIMESTAMP_LTZ(3) NOT NULL, which
	// windows (and lookup joins) may use as their time.
	ProcTime bool
	Pos      parser.Pos
}

// Table is a table declared with CREATE TABLE.
type Table struct {
	Name    string
	Columns []Column
	// Options is the WITH clause; OptionPos where each key was written.
	Options   map[string]string
	OptionPos map[string]parser.Pos
	Watermark *parser.WatermarkDef
	DDL       *parser.CreateTableStmt
}

// View is a view declared with CREATE VIEW.
type View struct {
	Name    string
	Columns []string // renamed output columns, or nil
	Query   *parser.Select
	DDL     *parser.CreateViewStmt
	// Schema is the view's output schema, computed when it was created.
	Schema types.Schema
}

// Catalog holds the tables and views of one session. Names are
// case-insensitive. It is not safe for concurrent use; the engine guards
// it.
type Catalog struct {
	tables map[string]*Table
	views  map[string]*View
	funcs  map[string]*Function
	// classes are the functions CREATE FUNCTION declares by class name.
	classes map[string]*Function
}

// NewCatalog returns an empty catalog.
func NewCatalog() *Catalog {
	return &Catalog{tables: map[string]*Table{}, views: map[string]*View{}, funcs: map[string]*Function{}, classes: map[string]*Function{}}
}

// Function is a user-defined scalar function: arguments are cast to Args
// (implicitly, as for built-in functions), Eval computes Result over a
// batch.
type Function struct {
	Name   string
	Args   []types.Type
	Result types.Type
	Eval   plan.ScalarFunc
	// Class, when set, is the (Java) class name by which Flink's CREATE
	// FUNCTION name AS 'Class' declares this function, as name; it is then
	// not callable as Name until declared (Name names it in errors).
	Class string
}

// RegisterFunction adds a user-defined scalar function. Its name must not
// be a built-in function's or an already registered one's; with a Class,
// the class must not be registered already.
func (c *Catalog) RegisterFunction(f Function) error {
	if f.Class != "" {
		if _, dup := c.classes[f.Class]; dup {
			return fmt.Errorf("a function of class %s is already registered", f.Class)
		}
		if f.Eval == nil {
			return fmt.Errorf("function %s (class %s) has no Eval", strings.ToUpper(f.Name), f.Class)
		}
		c.classes[f.Class] = &f
		return nil
	}
	name := strings.ToUpper(f.Name)
	if _, builtin := scalarFuncs[name]; builtin || aggregateFuncs[name] != 0 || windowFuncs[name] || windowProps[name] != "" {
		return fmt.Errorf("function %s is built in", name)
	}
	if _, dup := c.funcs[name]; dup {
		return fmt.Errorf("function %s is already registered", name)
	}
	if f.Eval == nil {
		return fmt.Errorf("function %s has no Eval", name)
	}
	f.Name = name
	c.funcs[name] = &f
	return nil
}

// Function returns the user-defined function named name.
func (c *Catalog) Function(name string) (*Function, bool) {
	if c == nil {
		return nil, false
	}
	f, ok := c.funcs[strings.ToUpper(name)]
	return f, ok
}

// classNames returns the registered class names, sorted.
func (c *Catalog) classNames() []string {
	out := make([]string, 0, len(c.classes))
	for n := range c.classes {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Functions returns the names of the user-defined functions, sorted.
func (c *Catalog) Functions() []string {
	if c == nil {
		return nil
	}
	out := make([]string, 0, len(c.funcs))
	for n := range c.funcs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func key(name string) string { return strings.ToLower(name) }

// Table returns the table named name.
func (c *Catalog) Table(name string) (*Table, bool) {
	t, ok := c.tables[key(name)]
	return t, ok
}

// View returns the view named name.
func (c *Catalog) View(name string) (*View, bool) {
	v, ok := c.views[key(name)]
	return v, ok
}

// Tables returns the table names, sorted.
func (c *Catalog) Tables() []string { return sortedNames(c.tables) }

// Views returns the view names, sorted.
func (c *Catalog) Views() []string { return sortedNames(c.views) }

func sortedNames[T any](m map[string]*T) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		switch x := any(v).(type) {
		case *Table:
			out = append(out, x.Name)
		case *View:
			out = append(out, x.Name)
		}
	}
	sort.Strings(out)
	return out
}

// names returns every table and view name, for "did you mean" hints.
func (c *Catalog) names() []string { return append(c.Tables(), c.Views()...) }

// Schema returns the columns of a table (all of them, computed included)
// as a schema.
func (t *Table) Schema() types.Schema {
	var s types.Schema
	for _, c := range t.Columns {
		s.Fields = append(s.Fields, types.Field{Name: c.Name, Type: c.Type})
	}
	return s
}

// SourceSchema returns the columns a connector produces: physical and
// metadata columns, in declaration order.
func (t *Table) SourceSchema() types.Schema {
	var s types.Schema
	for _, c := range t.Columns {
		if c.Kind != Computed {
			s.Fields = append(s.Fields, types.Field{Name: c.Name, Type: c.Type})
		}
	}
	return s
}

// SinkSchema returns the columns written by INSERT INTO: physical and
// non-virtual metadata columns.
func (t *Table) SinkSchema() types.Schema {
	var s types.Schema
	for _, c := range t.Columns {
		if c.Kind == Physical || c.Kind == Metadata && !c.Virtual {
			s.Fields = append(s.Fields, types.Field{Name: c.Name, Type: c.Type})
		}
	}
	return s
}

// Describe prints the table's columns as DESCRIBE shows them: name, type,
// nullability, extras (computed expression, metadata, watermark).
func (t *Table) Describe() [][]string {
	rows := [][]string{{"name", "type", "null", "extras"}}
	for _, c := range t.Columns {
		null := "TRUE"
		if c.Type.NotNull {
			null = "FALSE"
		}
		var extras []string
		switch c.Kind {
		case Computed:
			extras = append(extras, "AS "+exprString(c.Expr))
			if c.ProcTime {
				extras = append(extras, "PROCTIME")
			}
		case Metadata:
			k := c.MetadataKey
			if k == "" {
				k = c.Name
			}
			extras = append(extras, fmt.Sprintf("METADATA FROM '%s'", k))
		}
		if t.Watermark != nil && strings.EqualFold(t.Watermark.Column.Name, c.Name) {
			extras = append(extras, "WATERMARK AS "+exprString(t.Watermark.Expr))
		}
		rows = append(rows, []string{c.Name, c.Type.Nullable().String(), null, strings.Join(extras, " ")})
	}
	return rows
}

func exprString(e parser.Expr) string {
	if s, ok := e.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", e)
}
