package server_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/server"
)

// TestQueryRowKinds: /v1/query streams an updating result's rows with
// their kinds: every row carries "op".
func TestQueryRowKinds(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.json")
	events := `{"before":null,"after":{"id":1,"name":"a"},"op":"c"}
{"before":{"id":1,"name":"a"},"after":{"id":1,"name":"b"},"op":"u"}
{"before":{"id":1,"name":"b"},"after":null,"op":"d"}
`
	if err := os.WriteFile(path, []byte(events), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := startEngine(t, engine.Options{StateDir: t.TempDir()}, server.Options{})
	ts.statements(`CREATE TABLE p (id BIGINT, name STRING) WITH ('connector' = 'filesystem', 'path' = '` + path + `', 'format' = 'debezium-json');`)
	code, body := ts.do("GET", "/v1/query?sql="+urlEscape("SELECT * FROM p"), "", "")
	want := `{"op":"+I","id":1,"name":"a"}
{"op":"-U","id":1,"name":"a"}
{"op":"+U","id":1,"name":"b"}
{"op":"-D","id":1,"name":"b"}
`
	if code != http.StatusOK || string(body) != want {
		t.Errorf("GET /v1/query: %d\n%s\nwant\n%s", code, body, want)
	}
}
