package engine_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/engine"
)

// TestWindowSemiAntiFlinkDocs reproduces the SEMI and ANTI examples of
// Flink's Window JOIN documentation, row for row: IN and EXISTS keep the
// left rows with a match in their window (L3), NOT IN and NOT EXISTS
// those without (L1, and L2, whose window [12:05, 12:10) has no num 2:
// R2 is in [12:00, 12:05)). num is declared NOT NULL, which NOT IN needs
// here (Flink's tables have it nullable).
func TestWindowSemiAntiFlinkDocs(t *testing.T) {
	left := writeFile(t, "left.csv", "2020-04-15 12:02:00,1,L1\n2020-04-15 12:06:00,2,L2\n2020-04-15 12:03:00,3,L3\n")
	right := writeFile(t, "right.csv", "2020-04-15 12:01:00,2,R2\n2020-04-15 12:04:00,3,R3\n2020-04-15 12:05:00,4,R4\n")
	ddl := fmt.Sprintf(`CREATE TABLE LeftTable (row_time TIMESTAMP(3), num INT NOT NULL, id STRING, WATERMARK FOR row_time AS row_time - INTERVAL '1' SECOND)
		WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');
		CREATE TABLE RightTable (row_time TIMESTAMP(3), num INT NOT NULL, id STRING, WATERMARK FOR row_time AS row_time - INTERVAL '1' SECOND)
		WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'csv');`, left, right)
	const l = `SELECT * FROM (SELECT * FROM TABLE(TUMBLE(TABLE LeftTable, DESCRIPTOR(row_time), INTERVAL '5' MINUTES))) L WHERE `
	const r = `(SELECT * FROM TABLE(TUMBLE(TABLE RightTable, DESCRIPTOR(row_time), INTERVAL '5' MINUTES))) R`
	semi := []string{"2020-04-15 12:03:00.000, 3, L3, 2020-04-15 12:00:00.000, 2020-04-15 12:05:00.000, 2020-04-15 12:04:59.999"}
	anti := []string{
		"2020-04-15 12:02:00.000, 1, L1, 2020-04-15 12:00:00.000, 2020-04-15 12:05:00.000, 2020-04-15 12:04:59.999",
		"2020-04-15 12:06:00.000, 2, L2, 2020-04-15 12:05:00.000, 2020-04-15 12:10:00.000, 2020-04-15 12:09:59.999",
	}
	for _, c := range []struct {
		name, where string
		want        []string
	}{
		{"IN", `L.num IN (SELECT num FROM ` + r + ` WHERE L.window_start = R.window_start AND L.window_end = R.window_end)`, semi},
		{"EXISTS", `EXISTS (SELECT * FROM ` + r + ` WHERE L.num = R.num AND L.window_start = R.window_start AND L.window_end = R.window_end)`, semi},
		{"NOT IN", `L.num NOT IN (SELECT num FROM ` + r + ` WHERE L.window_start = R.window_start AND L.window_end = R.window_end)`, anti},
		{"NOT EXISTS", `NOT EXISTS (SELECT * FROM ` + r + ` WHERE L.num = R.num AND L.window_start = R.window_start AND L.window_end = R.window_end)`, anti},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, par := range []int{1, 3} {
				_, rows := queryRows(t, fmt.Sprintf("SET 'parallelism.default' = '%d';\n", par)+ddl+l+c.where+";")
				slices.Sort(rows)
				checkRows(t, rows, c.want)
			}
			// EXPLAIN names the window join's kind.
			s := engine.New(engine.Options{StateDir: t.TempDir()}).NewSession()
			res := sessionExec(t, s, ddl+"EXPLAIN "+l+c.where+";")
			kind := "type=SEMI"
			if len(c.want) == 2 {
				kind = "type=ANTI"
			}
			if !strings.Contains(res.Message, "WindowJoin "+kind) {
				t.Fatalf("EXPLAIN has no WindowJoin %s:\n%s", kind, res.Message)
			}
		})
	}
}
