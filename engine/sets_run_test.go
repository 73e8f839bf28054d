package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/streamsql/streamsql/engine"
)

// TestStatementSetOneJob: a statement set, in either form, runs as one job
// with one name, one state directory and both sinks' rows; a source that
// two INSERTs read is read once (its rows are counted once); a union of
// two sources delivers the rows of both.
func TestStatementSetOneJob(t *testing.T) {
	for _, form := range []string{"execute", "begin"} {
		t.Run(form, func(t *testing.T) {
			ctx := context.Background()
			state, out := t.TempDir(), t.TempDir()
			eng := engine.New(engine.Options{StateDir: state, CheckpointInterval: 20 * time.Millisecond})
			sql := setDDL(out) + "SET 'pipeline.name' = 'both';\n"
			if form == "execute" {
				sql += "EXECUTE STATEMENT SET BEGIN INSERT INTO a SELECT k FROM ev; INSERT INTO b SELECT k * 10 FROM ev WHERE k > 5; END;"
			} else {
				sql += "BEGIN STATEMENT SET;\nINSERT INTO a SELECT k FROM ev;\nINSERT INTO b SELECT k * 10 FROM ev WHERE k > 5;\nEND;"
			}
			res, err := eng.Exec(ctx, sql)
			if err != nil {
				t.Fatal(err)
			}
			var jobs []*engine.Job
			for _, r := range res {
				if r.Job != nil {
					jobs = append(jobs, r.Job)
				}
			}
			if len(jobs) != 1 || jobs[0].ID() != "both" {
				t.Fatalf("jobs started: %v", jobs)
			}
			if err := jobs[0].Wait(ctx); err != nil {
				t.Fatal(err)
			}
			show := execAll(t, eng, "SHOW JOBS;")
			if len(show.Rows) != 1 || show.Rows[0][0] != "both" || show.Rows[0][1] != "FINISHED" {
				t.Fatalf("SHOW JOBS: %v", show.Rows)
			}
			if st := jobs[0].Stats(); st.RecordsIn != 10 {
				t.Errorf("the source was read %d rows, want 10 (once for both INSERTs)", st.RecordsIn)
			}
			for sink, want := range map[string]string{"a": "1 2 3 4 5 6 7 8 9 10", "b": "60 70 80 90 100"} {
				b, err := os.ReadFile(filepath.Join(out, sink, "part-0.csv"))
				if err != nil {
					t.Fatal(err)
				}
				if got := strings.Join(strings.Fields(string(b)), " "); got != want {
					t.Errorf("sink %s: %q, want %q", sink, got, want)
				}
			}
			dirs, err := os.ReadDir(state)
			if err != nil {
				t.Fatal(err)
			}
			if len(dirs) != 1 || dirs[0].Name() != "both" {
				t.Errorf("state directories: %v, want one, both", dirs)
			}
		})
	}
}

// TestUnionAllTwoSources: the rows of both sources, each once.
func TestUnionAllTwoSources(t *testing.T) {
	_, rows := queryRows(t, setDDL(t.TempDir())+`CREATE TABLE ev2 (k BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
	WITH ('connector' = 'datagen', 'number-of-rows' = '5', 'fields.k.kind' = 'sequence', 'fields.k.start' = '101', 'fields.k.end' = '105');
SELECT k FROM ev WHERE k <= 3 UNION ALL SELECT k FROM ev2 UNION ALL (SELECT k + 1000 FROM ev WHERE k = 10);`)
	slices.Sort(rows)
	want := "1 101 1010 102 103 104 105 2 3"
	if s := strings.Join(rows, " "); s != want {
		t.Fatalf("UNION ALL rows: %s, want %s", s, want)
	}
}
