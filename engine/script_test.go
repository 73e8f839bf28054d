package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/parser"
)

// scriptDDL is two lines.
const scriptDDL = `CREATE TABLE ev (k BIGINT, price BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts) WITH ('connector' = 'datagen', 'number-of-rows' = '100', 'fields.ts.step' = '1 ms');
CREATE TABLE out (k BIGINT) WITH ('connector' = 'blackhole');
`

// TestExecScriptError: a script whose third line is wrong runs the
// statements before it and fails with the line and column of the fault.
func TestExecScriptError(t *testing.T) {
	for _, c := range []struct{ name, line3, want string }{
		{"plan", "INSERT INTO out SELECT prcie FROM ev;", `3:24: unknown column "prcie"`},
		{"set", "SET 'pipeline.nme' = 'x';", `3:1: unknown SET key "pipeline.nme"; did you mean "pipeline.name"?`},
	} {
		t.Run(c.name, func(t *testing.T) {
			eng := engine.New(engine.Options{StateDir: t.TempDir(), CheckpointInterval: -1})
			s := eng.NewSession()
			res, err := s.Exec(context.Background(), scriptDDL+c.line3+"\nCREATE TABLE never (k BIGINT) WITH ('connector' = 'blackhole');")
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("got %v, want an error starting with %s", err, c.want)
			}
			var perr *parser.Error
			if !errors.As(err, &perr) || perr.Pos.Line != 3 {
				t.Fatalf("error %v is not a *parser.Error on line 3", err)
			}
			if len(res) != 2 || res[0].Result.Message != "table ev created" || res[1].Result.Message != "table out created" {
				t.Fatalf("results before the error: %+v", res)
			}
			if got := strings.Join(s.TableNames(), ","); got != "ev,out" {
				t.Fatalf("tables after the failed script: %s", got)
			}
		})
	}
	// A script that does not parse runs nothing.
	eng := engine.New(engine.Options{StateDir: t.TempDir(), CheckpointInterval: -1})
	res, err := eng.Exec(context.Background(), scriptDDL+"SELEC k FROM ev;")
	var perr *parser.Error
	if !errors.As(err, &perr) || perr.Pos.Line != 3 || perr.Pos.Column != 1 || len(res) != 0 || len(eng.TableNames()) != 0 {
		t.Fatalf("a syntax error on line 3: got %v, %d results, tables %v", err, len(res), eng.TableNames())
	}
}

// TestExecScript: DDL and SET take effect, an INSERT starts a job, a
// SELECT comes back planned for the caller to run.
func TestExecScript(t *testing.T) {
	eng := engine.New(engine.Options{StateDir: t.TempDir(), CheckpointInterval: -1})
	res, err := eng.Exec(context.Background(), scriptDDL+`
SET 'pipeline.name' = 'scripted';
INSERT INTO out SELECT k FROM ev;
SELECT k, price FROM ev WHERE k IS NOT NULL;`)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 5 {
		t.Fatalf("got %d results, want 5", len(res))
	}
	job := res[3].Job
	if job == nil || job.ID() != "scripted" {
		t.Fatalf("the INSERT's job: %+v", res[3])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := job.Wait(ctx); err != nil || job.Status() != engine.Finished || job.Stats().RecordsOut != 100 {
		t.Fatalf("job: %v, %s, %+v", err, job.Status(), job.Stats())
	}
	sel := res[4]
	if sel.Job != nil || sel.Result.Kind != engine.Query {
		t.Fatalf("the SELECT: %+v", sel)
	}
	n := 0
	for row, err := range sel.Result.Query.Rows(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := row.Values[1].(int64); !ok {
			t.Fatalf("price is %T", row.Values[1])
		}
		n++
	}
	if n != 100 {
		t.Fatalf("the SELECT gave %d rows, want 100", n)
	}
	if err := eng.Close(ctx); err != nil {
		t.Fatal(err)
	}
}
