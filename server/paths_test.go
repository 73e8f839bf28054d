package server_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/server"
)

// TestPathPolicy judges paths by where they really lead, on a real
// directory tree with links pointing in and out.
func TestPathPolicy(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "data")
	other := filepath.Join(base, "other")
	extra := filepath.Join(base, "extra")
	for _, d := range []string{root + "/sub", other, extra, root + "/mixed"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{root + "/in.json", other + "/secret.json", root + "/mixed/ok.json"} {
		if err := os.WriteFile(f, []byte("{}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		root + "/out":             other,
		root + "/outfile":         other + "/secret.json",
		root + "/inlink":          root + "/sub",
		root + "/mixed/leak.json": other + "/secret.json",
		root + "/sub/up":          "..",
	}
	for l, target := range links {
		if err := os.Symlink(target, l); err != nil {
			t.Fatal(err)
		}
	}
	policy, err := server.PathPolicy(root, extra)
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	for _, p := range []string{
		root + "/sub", root + "/in.json", "in.json", "./sub", "sub/../in.json", root + "/new/dir", "new/part",
		root + "/inlink/x", root + "/sub/up/in.json", extra, extra + "/new", "sub/up/sub",
	} {
		if err := policy(p); err != nil {
			t.Errorf("%q: %v, want accepted", p, err)
		}
	}
	for _, p := range []string{
		"/etc/passwd", "/etc", "/", "..", "../other/secret.json", root + "/../other", root + "/out", root + "/out/secret.json",
		root + "/outfile", "out/../../other", root + "/out/new", "new/../../other", root + "/mixed",
		root, "sub/up/sub/up", // hold links leading out
		base, root + "x", root + "/sub/up/../other/secret.json", other + "/../data/../other",
	} {
		err := policy(p)
		if err == nil {
			t.Errorf("%q: accepted, want refused", p)
			continue
		}
		if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), root) {
			t.Errorf("%q: %v, want the path and the allowed directories named", p, err)
		}
	}
	if _, err := server.PathPolicy(base + "/missing"); err == nil {
		t.Error("a missing data directory was accepted")
	}
}

// TestDataRoot: through the API, a filesystem table outside the data
// directory is refused when it is planned, as a source and as a sink,
// with an error naming the table and the path; inside, it runs.
func TestDataRoot(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "in.json"), []byte(`{"a": 1}`+"\n"+`{"a": 2}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	policy, err := server.PathPolicy(root)
	if err != nil {
		t.Fatal(err)
	}
	ts := startEngine(t, engine.Options{StateDir: t.TempDir(), PathPolicy: policy}, server.Options{})

	ts.statements(`CREATE TABLE passwd (line STRING) WITH ('connector' = 'filesystem', 'path' = '/etc/passwd', 'format' = 'csv');
CREATE TABLE up (a INT) WITH ('connector' = 'filesystem', 'path' = '` + root + `/../` + filepath.Base(outside) + `', 'format' = 'json');
CREATE TABLE good (a INT) WITH ('connector' = 'filesystem', 'path' = '` + root + `/in.json', 'format' = 'json');
CREATE TABLE sink_out (a INT) WITH ('connector' = 'filesystem', 'path' = '` + outside + `/w', 'format' = 'json');
CREATE TABLE sink_in (a INT) WITH ('connector' = 'filesystem', 'path' = '` + root + `/w', 'format' = 'json');`)

	code, body := ts.do("GET", "/v1/query?sql="+urlEscape("SELECT line FROM passwd"), "", "")
	if code != http.StatusBadRequest || !strings.Contains(string(body), "table passwd") || !strings.Contains(string(body), "/etc/passwd") || !strings.Contains(string(body), "outside") {
		t.Errorf("SELECT from /etc/passwd: %d %s", code, body)
	}
	code, body = ts.do("POST", "/v1/statements", "", "INSERT INTO sink_out SELECT a FROM good")
	if code != http.StatusBadRequest || !strings.Contains(string(body), "table sink_out") || !strings.Contains(string(body), outside+"/w") {
		t.Errorf("INSERT into a sink outside: %d %s", code, body)
	}
	if _, err := os.Stat(outside + "/w"); err == nil {
		t.Error("the refused sink created its directory")
	}
	code, body = ts.do("POST", "/v1/statements", "", "INSERT INTO sink_in SELECT a FROM up")
	if code != http.StatusBadRequest || !strings.Contains(string(body), "table up") {
		t.Errorf("a source reaching out with ..: %d %s", code, body)
	}
	code, body = ts.do("GET", "/v1/query?sql="+urlEscape("SELECT a FROM good"), "", "")
	if code != http.StatusOK || strings.Count(string(body), `"a":`) != 2 {
		t.Errorf("SELECT inside the data directory: %d %s", code, body)
	}
}
