package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/streamsql/streamsql/engine"
)

const secretDDL = `CREATE TABLE clicks (user_id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '2' SECOND) COMMENT 'user clicks' WITH ('connector' = 'kafka', 'topic' = 'clicks', 'properties.bootstrap.servers' = '127.0.0.1:9092', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset', 'properties.sasl.jaas.config' = 'org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="hunter2";');
CREATE VIEW per_user AS SELECT user_id FROM clicks WHERE user_id > 0;`

// TestShowCreateTable prints the DDL back, secrets masked, and the printed
// DDL creates the same table again.
func TestShowCreateTable(t *testing.T) {
	s := engine.New(engine.Options{StateDir: t.TempDir()}).NewSession()
	sessionExec(t, s, secretDDL)
	ddl := sessionExec(t, s, "SHOW CREATE TABLE clicks;").Message
	want := `CREATE TABLE clicks (user_id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '2' SECOND) COMMENT 'user clicks' WITH ('connector' = 'kafka', 'topic' = 'clicks', 'properties.bootstrap.servers' = '127.0.0.1:9092', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset', 'properties.sasl.jaas.config' = '******')`
	if ddl != want {
		t.Fatalf("SHOW CREATE TABLE:\n got %s\nwant %s", ddl, want)
	}
	if strings.Contains(ddl, "hunter2") {
		t.Fatal("a secret leaked")
	}
	// The catalog itself keeps the real values.
	again := engine.New(engine.Options{StateDir: t.TempDir()}).NewSession()
	sessionExec(t, again, ddl+";")
	if got := sessionExec(t, again, "SHOW CREATE TABLE clicks;").Message; got != want {
		t.Fatalf("the printed DDL does not round-trip: %s", got)
	}
	if got := sessionExec(t, s, "SHOW CREATE VIEW per_user;").Message; got != "CREATE VIEW per_user AS SELECT user_id FROM clicks WHERE user_id > 0" {
		t.Fatalf("SHOW CREATE VIEW: %s", got)
	}
	for sql, want := range map[string]string{
		"SHOW CREATE TABLE clikcs;":   `unknown table or view "clikcs"; did you mean "clicks"?`,
		"SHOW CREATE TABLE per_user;": "per_user is a view: SHOW CREATE VIEW per_user",
		"SHOW CREATE VIEW clicks;":    "clicks is a table: SHOW CREATE TABLE clicks",
	} {
		if err := sessionErr(t, s, sql); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", sql, err, want)
		}
	}
}

func TestDescribeExtended(t *testing.T) {
	s := engine.New(engine.Options{StateDir: t.TempDir()}).NewSession()
	sessionExec(t, s, secretDDL)
	plain := sessionExec(t, s, "DESCRIBE clicks;")
	ext := sessionExec(t, s, "DESCRIBE EXTENDED clicks;")
	if len(plain.Rows) != 2 || len(ext.Rows) <= len(plain.Rows) {
		t.Fatalf("DESCRIBE: %v\nDESCRIBE EXTENDED: %v", plain.Rows, ext.Rows)
	}
	var lines []string
	for _, r := range ext.Rows[len(plain.Rows):] {
		lines = append(lines, r[0]+" "+r[1])
	}
	got := strings.Join(lines, "\n")
	want := `# table clicks
# comment user clicks
# watermark FOR ts AS (ts - INTERVAL '2' SECOND)
# option 'connector' = 'kafka'
# option 'topic' = 'clicks'
# option 'properties.bootstrap.servers' = '127.0.0.1:9092'
# option 'format' = 'json'
# option 'scan.startup.mode' = 'earliest-offset'
# option 'properties.sasl.jaas.config' = '******'`
	if got != want {
		t.Fatalf("DESCRIBE EXTENDED:\n%s\nwant:\n%s", got, want)
	}
	view := sessionExec(t, s, "DESC EXTENDED per_user;")
	if last := view.Rows[len(view.Rows)-1]; last[0] != "# query" || !strings.HasPrefix(last[1], "CREATE VIEW per_user AS SELECT") {
		t.Fatalf("DESCRIBE EXTENDED of a view: %v", view.Rows)
	}
}

// TestShowJobsStatement: SHOW JOBS shows each job's statement.
func TestShowJobsStatement(t *testing.T) {
	eng := engine.New(engine.Options{StateDir: t.TempDir(), CheckpointInterval: -1})
	res, err := eng.Exec(context.Background(), `CREATE TABLE ev (k BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '100');
		CREATE TABLE out (k BIGINT) WITH ('connector' = 'blackhole');
		INSERT INTO out
		  SELECT k FROM ev WHERE k > 0;`)
	if err != nil {
		t.Fatal(err)
	}
	show := execAll(t, eng, "SHOW JOBS;")
	h := show.Header
	if h[len(h)-1] != "statement" || h[len(h)-2] != "savepoint" {
		t.Fatalf("SHOW JOBS header: %v", h)
	}
	if got := show.Rows[0][len(h)-1]; got != "INSERT INTO out SELECT k FROM ev WHERE k > 0" {
		t.Fatalf("SHOW JOBS statement: %q", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := eng.Close(ctx); err != nil {
		t.Fatal(err)
	}
	_ = res
}
