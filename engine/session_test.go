package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/types"
)

// sessionExec runs the statements of sql in s and returns the last result.
func sessionExec(t *testing.T, s *engine.Session, sql string) *engine.Result {
	t.Helper()
	stmts, err := engine.Parse("t.sql", sql)
	if err != nil {
		t.Fatal(err)
	}
	var last *engine.Result
	for _, st := range stmts {
		if last, err = s.Execute(context.Background(), st); err != nil {
			t.Fatalf("%s: %v", st, err)
		}
	}
	return last
}

// sessionErr runs the one statement of sql in s and returns its error.
func sessionErr(t *testing.T, s *engine.Session, sql string) error {
	t.Helper()
	stmts, err := engine.Parse("t.sql", sql)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Execute(context.Background(), stmts[0])
	return err
}

const sessionDDL = `CREATE TABLE ev (k BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
	WITH ('connector' = 'datagen', 'number-of-rows' = '10');
	CREATE TABLE out (k BIGINT) WITH ('connector' = 'blackhole');`

func TestSessionsAreIsolated(t *testing.T) {
	eng := engine.New(engine.Options{StateDir: t.TempDir(), CheckpointInterval: -1})
	a, b := eng.NewSession(), eng.NewSession()

	// Catalogs: a table of a is unknown to b and to the default session.
	sessionExec(t, a, sessionDDL)
	if got := a.TableNames(); strings.Join(got, ",") != "ev,out" {
		t.Fatalf("session a tables: %v", got)
	}
	if got := b.TableNames(); len(got) != 0 {
		t.Fatalf("session b sees tables of a: %v", got)
	}
	if got := eng.TableNames(); len(got) != 0 {
		t.Fatalf("the default session sees tables of a: %v", got)
	}
	if err := sessionErr(t, b, "SELECT k FROM ev;"); err == nil || !strings.Contains(err.Error(), "ev") {
		t.Fatalf("b selecting a's table: %v", err)
	}
	// b may create its own table of the same name.
	sessionExec(t, b, sessionDDL)

	// Settings: SET in a changes neither b nor the default session.
	sessionExec(t, a, "SET 'pipeline.name' = 'from-a';")
	if _, ok := b.Setting("pipeline.name"); ok {
		t.Fatal("SET in session a is visible in session b")
	}
	if _, ok := eng.Setting("pipeline.name"); ok {
		t.Fatal("SET in session a is visible in the default session")
	}
	for _, r := range sessionExec(t, b, "SET;").Rows {
		if r[0] == "pipeline.name" && r[1] == "from-a" {
			t.Fatalf("SET; in b lists a's setting: %v", r)
		}
	}

	// Job names: a's pipeline.name names only a's jobs; names are unique
	// across sessions.
	qa := sessionExec(t, a, "INSERT INTO out SELECT k FROM ev;").Query
	qb := sessionExec(t, b, "INSERT INTO out SELECT k FROM ev;").Query
	if qa.Name() != "from-a" || qb.Name() != "query" {
		t.Fatalf("job names: a %q, b %q; want from-a and query", qa.Name(), qb.Name())
	}
	sessionExec(t, b, "SET 'pipeline.name' = 'from-a';")
	if q := sessionExec(t, b, "INSERT INTO out SELECT k FROM ev;").Query; q.Name() != "from-a-2" {
		t.Fatalf("the same pipeline.name in two sessions gave %q, want from-a-2", q.Name())
	}

	// RESET in b leaves a alone.
	sessionExec(t, b, "RESET;")
	if v, _ := a.Setting("pipeline.name"); v != "from-a" {
		t.Fatalf("RESET in b changed a: %q", v)
	}
	// Planned with Plan, too.
	st, _ := engine.Parse("t.sql", "INSERT INTO out SELECT k FROM ev;")
	q, err := a.Plan(context.Background(), st[0], engine.QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if q.Name() != "from-a-3" {
		t.Fatalf("Plan in a named the job %q, want from-a-3", q.Name())
	}
	if _, err := b.Plan(context.Background(), st[0], engine.QueryOptions{Name: "x"}); err != nil {
		t.Fatal(err)
	}
}

func TestSessionFunctions(t *testing.T) {
	eng := engine.New(engine.Options{StateDir: t.TempDir(), CheckpointInterval: -1})
	before := eng.NewSession()
	double := engine.RowFunction("double", []types.Type{types.BigIntType}, types.BigIntType, func(args []any) (any, error) {
		if args[0] == nil {
			return nil, nil
		}
		return args[0].(int64) * 2, nil
	})
	if err := eng.RegisterFunction(double); err != nil {
		t.Fatal(err)
	}
	if err := eng.RegisterFunction(double); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("registering DOUBLE twice: %v", err)
	}
	after := eng.NewSession()
	for name, s := range map[string]*engine.Session{"before": before, "after": after} {
		sessionExec(t, s, sessionDDL+"INSERT INTO out SELECT double(k) FROM ev;")
		if !strings.Contains(strings.Join(s.FunctionNames(), ","), "DOUBLE") {
			t.Fatalf("session created %s RegisterFunction lacks DOUBLE: %v", name, s.FunctionNames())
		}
	}
	// A session's own function is its own.
	triple := engine.RowFunction("triple", []types.Type{types.BigIntType}, types.BigIntType, func(args []any) (any, error) { return nil, nil })
	if err := before.RegisterFunction(triple); err != nil {
		t.Fatal(err)
	}
	if err := sessionErr(t, after, "SELECT triple(k) FROM ev;"); err == nil {
		t.Fatal("a session's function is visible in another session")
	}
}
