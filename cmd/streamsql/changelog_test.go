package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunChangelog: `streamsql run` prints an updating result's rows with
// their kinds: every JSON row carries "op", and the table has
// the op column; a malformed event is skipped with
// 'debezium-json.ignore-parse-errors', and counted.
func TestRunChangelog(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "p.json")
	must(t, os.WriteFile(data, []byte(`{"before":null,"after":{"id":1,"name":"a"},"op":"c"}
{"before":null,"after":{"id":2,"name":"x"},"op":"z"}
{"before":{"id":1,"name":"a"},"after":{"id":1,"name":"b"},"op":"u"}
{"before":{"id":1,"name":"b"},"after":null,"op":"d"}
`), 0o644))
	sql := filepath.Join(dir, "q.sql")
	must(t, os.WriteFile(sql, []byte(fmt.Sprintf(`CREATE TABLE p (id BIGINT, name STRING) WITH ('connector' = 'filesystem',
  'path' = '%s', 'format' = 'debezium-json', 'debezium-json.ignore-parse-errors' = 'true');
SELECT * FROM p;
`, data)), 0o644))
	for format, want := range map[string]string{
		"json": `{"op":"+I","id":1,"name":"a"}
{"op":"-U","id":1,"name":"a"}
{"op":"+U","id":1,"name":"b"}
{"op":"-D","id":1,"name":"b"}
`,
		"table": `| op |                   id |   name |
+----+----------------------+--------+
| +I |                    1 |      a |
| -U |                    1 |      a |
| +U |                    1 |      b |
| -D |                    1 |      b |
`,
	} {
		var out, errs bytes.Buffer
		code := Main(context.Background(), []string{"run", "--format", format, "--state-dir", filepath.Join(dir, format), sql}, &out, &errs)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", format, code, errs.String())
		}
		if !strings.Contains(errs.String(), "1 malformed records skipped") {
			t.Errorf("--format %s: the malformed event is not counted: %s", format, errs.String())
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("--format %s:\n%s\nwant:\n%s", format, out.String(), want)
		}
	}
}
