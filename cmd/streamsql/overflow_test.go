package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunSumOverflowFails runs a windowed SUM of BIGINT datagen values
// (which span the whole int64 range) in the real binary: the sum
// overflows, and the query must fail naming the aggregate, column, window
// and key instead of printing a wrapped number.
func TestRunSumOverflowFails(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	sql := filepath.Join(dir, "overflow.sql")
	const q = `CREATE TABLE a (user_id BIGINT, amount BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '2' SECOND)
WITH ('connector'='datagen','seed'='1','number-of-rows'='20000','fields.user_id.min'='1','fields.user_id.max'='3','fields.ts.step'='1 ms');
SELECT window_start, user_id, COUNT(*) AS n, SUM(amount) AS s FROM TABLE(TUMBLE(TABLE a, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end, user_id;
`
	if err := os.WriteFile(sql, []byte(q), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--state-dir", filepath.Join(dir, "state"), sql)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("run succeeded; want a SUM overflow error; output:\n%s", out)
	}
	for _, want := range []string{
		`window aggregation "2-window-agg": numeric overflow: SUM(amount) overflows BIGINT`,
		`(window 2024-01-01 00:00:00.000 – 2024-01-01 00:00:10.000, key user_id=`,
		`cast the argument to DECIMAL(38, 0) to sum larger values`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// The same sum over DECIMAL(38, 0) fits and succeeds.
	q2 := strings.Replace(q, "SUM(amount)", "SUM(CAST(amount AS DECIMAL(38, 0)))", 1)
	if err := os.WriteFile(sql, []byte(q2), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(bin, "run", "--state-dir", filepath.Join(dir, "state2"), sql)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("DECIMAL sum: %v\n%s", err, out)
	}
}
