package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/checkpoint/objstore"
	"github.com/streamsql/streamsql/engine"
)

// TestSetAliases: Flink's state.* names set the execution.checkpointing.*
// keys themselves; SET; lists each once, under the key's name; RESET of
// either name resets it.
func TestSetAliases(t *testing.T) {
	s := engine.New(engine.Options{StateDir: t.TempDir()}).NewSession()
	res := sessionExec(t, s, "SET 'state.checkpoints.dir' = 's3://bkt/ckpt';")
	if want := "set state.checkpoints.dir = s3://bkt/ckpt (an alias of execution.checkpointing.dir)"; res.Message != want {
		t.Fatalf("reply %q, want %q", res.Message, want)
	}
	for _, k := range []string{"execution.checkpointing.dir", "state.checkpoints.dir"} {
		if v, ok := s.Setting(k); !ok || v != "s3://bkt/ckpt" {
			t.Fatalf("Setting(%q) = %q, %v", k, v, ok)
		}
	}
	sessionExec(t, s, "SET 'execution.checkpointing.savepoint-dir' = '/tmp/a'; SET 'state.savepoints.dir' = 's3://bkt/sp';")
	if got := s.Settings(); len(got) != 2 || got["execution.checkpointing.savepoint-dir"] != "s3://bkt/sp" {
		t.Fatalf("settings %v: want the two keys under their names, the alias's SET last", got)
	}
	seen := map[string]int{}
	for _, r := range sessionExec(t, s, "SET;").Rows {
		seen[r[0]]++
		if r[0] == "execution.checkpointing.dir" && (r[1] != "s3://bkt/ckpt" || r[2] != "set") {
			t.Fatalf("SET; row %v", r)
		}
	}
	if seen["execution.checkpointing.dir"] != 1 || seen["state.checkpoints.dir"] != 0 || seen["state.savepoints.dir"] != 0 {
		t.Fatalf("SET; lists %v", seen)
	}
	sessionExec(t, s, "RESET 'state.checkpoints.dir';")
	if _, ok := s.Setting("execution.checkpointing.dir"); ok {
		t.Fatal("RESET of the alias kept the key")
	}
	// The alias is suggested for a typo of it, and checked as the key.
	if err := sessionErr(t, s, "SET 'state.checkpoint.dir' = 'x';"); err == nil || !strings.Contains(err.Error(), `did you mean "state.checkpoints.dir"?`) {
		t.Fatalf("typo of the alias: %v", err)
	}
	if err := sessionErr(t, s, "SET 'state.checkpoints.dir' = 'gs://b/x';"); err == nil || !strings.Contains(err.Error(), "SET state.checkpoints.dir: expected 's3://bucket/prefix' or a directory") {
		t.Fatalf("bad alias value: %v", err)
	}
}

// TestSecretSettingsRedacted: the value of s3.secret-key, s3.access-key
// and of keys named like secrets is in no reply of the session (SET's, SET;,
// an error), nor in RedactSettings; the session keeps it for the job.
func TestSecretSettingsRedacted(t *testing.T) {
	const secret, access, user = "wJalrXUtnFEMIK7MDENGbPxRfiCYzz", "AKIAQQQQEXAMPLE7", "hunter2hunter2"
	s := engine.New(engine.Options{StateDir: t.TempDir()}).NewSession()
	var out strings.Builder
	for _, sql := range []string{
		"SET 's3.secret-key' = '" + secret + "';",
		"SET 's3.access-key' = '" + access + "';",
		"SET 'user.db.password' = '" + user + "';",
		"SET;",
		"CREATE TABLE ev (k BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '1', 'user.password' = '" + user + "');",
		"EXPLAIN SELECT k FROM ev;",
		"SHOW CREATE TABLE ev;",
	} {
		stmts, err := engine.Parse("t.sql", sql)
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.Execute(context.Background(), stmts[0])
		if err != nil {
			fmt.Fprintln(&out, err)
			continue
		}
		fmt.Fprintf(&out, "%s %v %v\n", res.Message, res.Header, res.Rows)
	}
	for _, sql := range []string{"SET 's3.secret-key' = ' " + secret + "';", "SET 's3.secret-kye' = '" + secret + "';"} {
		err := sessionErr(t, s, sql)
		if err == nil {
			t.Fatalf("%s: no error", sql)
		}
		fmt.Fprintln(&out, err)
	}
	fmt.Fprintln(&out, engine.RedactSettings(s.Settings()))
	text := out.String()
	for _, v := range []string{secret, access, user} {
		if strings.Contains(text, v) {
			t.Fatalf("a secret is shown:\n%s", text)
		}
	}
	for _, want := range []string{"set s3.secret-key = ******", "set s3.access-key = ******", "set user.db.password = ******", "[s3.secret-key ****** set]", "[s3.access-key ****** set]"} {
		if !strings.Contains(text, want) {
			t.Fatalf("no %q in:\n%s", want, text)
		}
	}
	if v, _ := s.Setting("s3.secret-key"); v != secret {
		t.Fatalf("the session lost the secret: %q", v)
	}
	for k, want := range map[string]bool{"s3.secret-key": true, "s3.access-key": true, "user.x.password": true, "user.api-token": true, "s3.endpoint": false, "execution.checkpointing.dir": false} {
		if got := engine.IsSecretKey(k); got != want {
			t.Errorf("IsSecretKey(%q) = %v", k, got)
		}
	}
}

// TestObjectStoreConfig: the s3.* settings, then the engine's Options, then
// the AWS environment; credentials never mixed between settings and env.
func TestObjectStoreConfig(t *testing.T) {
	env := map[string]string{
		"AWS_ACCESS_KEY_ID": "envkey", "AWS_SECRET_ACCESS_KEY": "envsecret", "AWS_SESSION_TOKEN": "envtoken",
		"AWS_REGION": "eu-west-3", "AWS_ENDPOINT_URL": "http://env:1",
	}
	eng := engine.New(engine.Options{StateDir: t.TempDir(), Getenv: func(k string) string { return env[k] },
		ObjectStore: objstore.Config{Endpoint: "http://opts:2"}})
	got := eng.ObjectStoreConfig(nil)
	if got.Endpoint != "http://opts:2" || got.Region != "eu-west-3" || got.AccessKey != "envkey" || got.SecretKey != "envsecret" || got.SessionToken != "envtoken" || got.PathStyle {
		t.Fatalf("from options and env: %#v (%s/%s)", got, got.AccessKey, got.SecretKey)
	}
	got = eng.ObjectStoreConfig(map[string]string{"s3.endpoint": "http://set:3", "s3.path.style.access": "true", "s3.access-key": "setkey", "s3.secret-key": "setsecret", "s3.region": "ap-south-1"})
	if got.Endpoint != "http://set:3" || got.Region != "ap-south-1" || got.AccessKey != "setkey" || got.SecretKey != "setsecret" || got.SessionToken != "" || !got.PathStyle {
		t.Fatalf("from settings: %#v (%s/%s/%s)", got, got.AccessKey, got.SecretKey, got.SessionToken)
	}
}

// TestSavepointTargets: savepoints without a target go inside the
// savepoint dir, an object store's or a directory's, else the state
// directory's savepoints/.
func TestSavepointTargets(t *testing.T) {
	state := t.TempDir()
	if got := engine.SavepointIn("", state, "j", "n"); got != state+"/savepoints/j-n" {
		t.Fatalf("default: %s", got)
	}
	if got := engine.SavepointIn("s3://bkt/sp/", state, "a/b", "n"); got != "s3://bkt/sp/a%2Fb-n" {
		t.Fatalf("s3: %s", got)
	}
	if got := engine.SavepointIn("s3://bkt", state, "j", ""); !strings.HasPrefix(got, "s3://bkt/j-20") || len(got) != len("s3://bkt/j-20060102-150405-000") {
		t.Fatalf("s3 unnamed: %s", got)
	}
	other := t.TempDir()
	if got := engine.SavepointIn("file://"+other, state, "j", "n"); got != other+"/j-n" {
		t.Fatalf("file: %s", got)
	}
}
