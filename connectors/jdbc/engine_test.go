package jdbc_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/internal/pgtest"
)

// execAll runs the statements of sql and returns the last result, or the
// first error.
func execAll(eng *engine.Engine, sql string) (*engine.Result, error) {
	stmts, err := engine.Parse("t.sql", sql)
	if err != nil {
		return nil, err
	}
	var last *engine.Result
	for _, st := range stmts {
		if last, err = eng.Execute(context.Background(), st); err != nil {
			return nil, err
		}
	}
	return last, nil
}

// writeEvents writes n CSV rows "k,v" with keys below keys.
func writeEvents(t *testing.T, n, keys int) (string, map[int][2]int64) {
	t.Helper()
	rng := rand.New(rand.NewSource(7))
	var sb strings.Builder
	want := map[int][2]int64{}
	for i := 0; i < n; i++ {
		k, v := rng.Intn(keys), int64(rng.Intn(1000))
		fmt.Fprintf(&sb, "%d,%d\n", k, v)
		w := want[k]
		want[k] = [2]int64{w[0] + 1, w[1] + v}
	}
	p := filepath.Join(t.TempDir(), "ev.csv")
	if err := os.WriteFile(p, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, want
}

// TestEngineUpdatingAggregate: a GROUP BY into a jdbc table with a
// PRIMARY KEY, exactly-once: the table ends with each key's count and sum,
// and no prepared transaction is left; the bounded scan reads the table
// back into a query.
func TestEngineUpdatingAggregate(t *testing.T) {
	srv := pgtest.Start(t)
	srv.Exec(t, "CREATE TABLE counts (k integer PRIMARY KEY, n bigint NOT NULL, total bigint)")
	path, want := writeEvents(t, 20000, 50)
	sql := fmt.Sprintf(`
SET 'execution.checkpointing.interval' = '50 ms';
CREATE TABLE ev (k INT, v BIGINT) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
CREATE TABLE counts (k INT, n BIGINT, total BIGINT, PRIMARY KEY (k) NOT ENFORCED)
WITH ('connector' = 'jdbc', 'url' = '%s', 'table-name' = 'counts', 'sink.delivery-guarantee' = 'exactly-once',
  'password' = 'not-needed-here');
INSERT INTO counts SELECT k, COUNT(*), SUM(v) FROM ev GROUP BY k;`, path, srv.JDBCURL("postgres"))
	eng := engine.New(engine.Options{StateDir: t.TempDir()})
	defer eng.Close(context.Background())
	res, err := execAll(eng, sql)
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Query.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	var wantRows []string
	for k, w := range want {
		wantRows = append(wantRows, fmt.Sprintf("%d,%d,%d", k, w[0], w[1]))
	}
	sort.Strings(wantRows)
	got := srv.Rows(t, "SELECT k, n, total FROM counts ORDER BY k::text")
	if strings.Join(got, ";") != strings.Join(wantRows, ";") {
		t.Fatalf("table:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantRows, "\n"))
	}
	if p := srv.Rows(t, "SELECT count(*) FROM pg_prepared_xacts"); p[0] != "0" {
		t.Fatalf("%s prepared transactions left", p[0])
	}
	// SHOW CREATE TABLE masks the password.
	show, err := execAll(eng, "SHOW CREATE TABLE counts;")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(show.Message, "not-needed-here") || !strings.Contains(show.Message, "'password' = '******'") {
		t.Fatalf("SHOW CREATE TABLE: %s", show.Message)
	}
	// The bounded scan: the table read back into a file.
	out := filepath.Join(t.TempDir(), "out")
	res, err = execAll(eng, fmt.Sprintf(`
CREATE TABLE counts_in (k INT, n BIGINT, total BIGINT) WITH ('connector' = 'jdbc', 'url' = '%s', 'table-name' = 'counts');
CREATE TABLE dump (k INT, n BIGINT, total BIGINT) WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
INSERT INTO dump SELECT k, n, total FROM counts_in;`, srv.JDBCURL("postgres"), out))
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Query.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "part-0.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	sort.Strings(lines)
	if strings.Join(lines, ";") != strings.Join(wantRows, ";") {
		t.Fatalf("scanned:\n%s\nwant:\n%s", b, strings.Join(wantRows, "\n"))
	}
}

// TestEnginePlanningErrors: the catalog checks surface as planning errors
// at the column or option at fault.
func TestEnginePlanningErrors(t *testing.T) {
	srv := pgtest.Start(t)
	srv.Exec(t, "CREATE TABLE counts (k integer PRIMARY KEY, n bigint)")
	for _, tc := range []struct{ ddl, insert, want string }{
		{"k INT, cnt BIGINT, PRIMARY KEY (k) NOT ENFORCED", "SELECT 1, CAST(2 AS BIGINT)",
			`t.sql:1:27: table sink: column "cnt": table counts of the database has no column "cnt" (it has k, n)`},
		{"k INT, n STRING, PRIMARY KEY (k) NOT ENFORCED", "SELECT 1, 'x'",
			`t.sql:1:27: table sink: column "n": the database column counts.n is bigint, which cannot hold the values of STRING (use text or varchar)`},
		{"k INT, n BIGINT", "SELECT k, COUNT(*) FROM (VALUES (1)) AS v(k) GROUP BY k",
			"t.sql:3:1: table sink (connector jdbc) accepts only inserts (append-only)"},
	} {
		eng := engine.New(engine.Options{StateDir: t.TempDir()})
		_, err := execAll(eng, fmt.Sprintf(`CREATE TABLE sink (%s)
WITH ('connector' = 'jdbc', 'url' = '%s', 'table-name' = 'counts');
INSERT INTO sink %s;`, tc.ddl, srv.JDBCURL("postgres"), tc.insert))
		_ = eng.Close(context.Background())
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("got  %v\nwant %s…", err, tc.want)
		}
	}
}
