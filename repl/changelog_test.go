package repl

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestChangelogResults: the rows of a debezium-json table show their real
// kinds in the shell's changelog mode and in the print connector.
func TestChangelogResults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "products.json")
	events := `{"before":null,"after":{"id":1,"name":"scooter"},"op":"c"}
{"before":null,"after":{"id":2,"name":"battery"},"op":"c"}
{"before":{"id":1,"name":"scooter"},"after":{"id":1,"name":"e-scooter"},"op":"u"}
{"before":{"id":2,"name":"battery"},"after":null,"op":"d"}
`
	if err := os.WriteFile(path, []byte(events), 0o644); err != nil {
		t.Fatal(err)
	}
	ddl := fmt.Sprintf(`CREATE TABLE products (id BIGINT, name STRING)
WITH ('connector' = 'filesystem', 'path' = '%s', 'format' = 'debezium-json');
CREATE TABLE out (id BIGINT, name STRING) WITH ('connector' = 'print');
`, path)
	out, errs, err := runScript(t, ddl+"SET 'sql-client.execution.result-mode' = 'changelog';\nSELECT * FROM products;\nINSERT INTO out SELECT * FROM products;\n")
	if err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	// Tableau mode (the default) shows an updating result as Flink's does:
	// with the op column.
	tab, errs, err := runScript(t, ddl+"SELECT * FROM products;\n")
	if err != nil {
		t.Fatalf("%v\n%s", err, errs)
	}
	if !strings.Contains(tab, "| -U |                    1 |   scooter |\n") {
		t.Errorf("tableau mode of an updating result:\n%s", tab)
	}
	for _, want := range []string{
		"| op |                   id |      name |\n",
		"| +I |                    1 |   scooter |\n",
		"| +I |                    2 |   battery |\n",
		"| -U |                    1 |   scooter |\n",
		"| +U |                    1 | e-scooter |\n",
		"| -D |                    2 |   battery |\n",
		"+I[1, scooter]\n+I[2, battery]\n-U[1, scooter]\n+U[1, e-scooter]\n-D[2, battery]\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
