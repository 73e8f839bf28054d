package planner_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/streamsql/streamsql/connectors/builtin"
	"github.com/streamsql/streamsql/connectors/nexmark"
	"github.com/streamsql/streamsql/parser"
	"github.com/streamsql/streamsql/planner"
	"github.com/streamsql/streamsql/types"
)

// TestPlanner runs the datadriven files in testdata/. Commands:
//
//	exec      — input: DDL statements (CREATE TABLE, VIEW and FUNCTION;
//	            the catalog has Nexmark's count_char class); output: "ok"
//	            or the error.
//	plan      — input: one SELECT or INSERT; output: its physical plan
//	            (EXPLAIN), or the error with a caret under its position.
//	            Arguments: parallelism=N and max-parallelism=N set the
//	            planner's (as the engine does from the settings), and so
//	            do mini-batch=(SIZE,LATENCY_MS), state-ttl=MS,
//	            allow-lateness=MS, early-fire=MS (-1: enabled without a
//	            delay) and late-fire=MS (enabled, with that delay; -1:
//	            without one); distributed plans for 'execution.distributed';
//	            time-zone=NAME sets table.local-time-zone.
func TestPlanner(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		cat := planner.NewCatalog()
		// The class CREATE FUNCTION declares Nexmark's count_char by (the
		// engine registers it so).
		if err := cat.RegisterFunction(planner.Function{Name: "count_char", Class: nexmark.CountCharClass,
			Args: []types.Type{types.StringType, types.StringType}, Result: types.BigIntType, Eval: nexmark.CountChar}); err != nil {
			t.Fatal(err)
		}
		p := planner.New(cat, builtin.Registry(io.Discard))
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			stmts, err := parser.Parse("", d.Input)
			if err != nil {
				return errText(d.Input, err)
			}
			switch d.Cmd {
			case "exec":
				for _, st := range stmts {
					var err error
					switch s := st.(type) {
					case *parser.CreateTableStmt:
						err = p.CreateTable(s)
					case *parser.CreateViewStmt:
						err = p.CreateView(s)
					case *parser.CreateFunctionStmt:
						err = p.CreateFunction(s)
					case *parser.DropStmt:
						err = p.Drop(s)
					default:
						err = fmt.Errorf("exec: unexpected %T", st)
					}
					if err != nil {
						return errText(d.Input, err)
					}
				}
				return "ok\n"
			case "plan":
				if len(stmts) != 1 {
					t.Fatalf("plan: want one statement, got %d", len(stmts))
				}
				p.Parallelism, p.MaxParallelism = 0, 0
				p.Updating = planner.UpdatingOptions{}
				p.Distributed = false
				p.TimeZone = nil
				for _, a := range d.CmdArgs {
					switch a.Key {
					case "time-zone":
						var name string
						d.ScanArgs(t, a.Key, &name)
						z, err := types.ParseZone(name)
						if err != nil {
							t.Fatal(err)
						}
						p.TimeZone = z
					case "mini-batch":
						d.ScanArgs(t, a.Key, &p.Updating.MiniBatch.Size, &p.Updating.MiniBatch.Latency)
					case "state-ttl":
						d.ScanArgs(t, a.Key, &p.Updating.StateTTL)
					case "allow-lateness":
						d.ScanArgs(t, a.Key, &p.Updating.AllowLateness)
					case "early-fire":
						d.ScanArgs(t, a.Key, &p.Updating.EarlyFire)
					case "late-fire":
						p.Updating.LateFire = true
						d.ScanArgs(t, a.Key, &p.Updating.LateFireDelay)
					case "parallelism":
						d.ScanArgs(t, a.Key, &p.Parallelism)
					case "max-parallelism":
						d.ScanArgs(t, a.Key, &p.MaxParallelism)
					case "distributed":
						p.Distributed = true
					default:
						t.Fatalf("plan: unknown argument %q", a.Key)
					}
				}
				out, err := p.Explain(&parser.ExplainStmt{Stmt: stmts[0]})
				if err != nil {
					return errText(d.Input, err)
				}
				return out
			}
			t.Fatalf("unknown command %q", d.Cmd)
			return ""
		})
	})
}

func errText(src string, err error) string {
	var pe *parser.Error
	if errors.As(err, &pe) {
		return "error: " + err.Error() + "\n" + strings.TrimRight(parser.Caret(src, pe.Pos), "\n") + "\n"
	}
	return "error: " + err.Error() + "\n"
}
