package engine_test

import (
	"strings"
	"testing"

	"github.com/streamsql/streamsql/engine"
)

func TestSetUnknownKey(t *testing.T) {
	eng := engine.New(engine.Options{StateDir: t.TempDir()})
	s := eng.NewSession()
	for _, c := range []struct{ sql, want string }{
		{"SET 'execution.checkpointing.intervl' = '1 s';",
			`t.sql:1:1: unknown SET key "execution.checkpointing.intervl"; did you mean "execution.checkpointing.interval"?`},
		{"SET 'pipline.name' = 'x';", `t.sql:1:1: unknown SET key "pipline.name"; did you mean "pipeline.name"?`},
		{"SET 'Parallelism.Default' = '2';", `t.sql:1:1: unknown SET key "Parallelism.Default"; did you mean "parallelism.default"?`},
		{"SET 'sql-client.display.max-colum-width' = '40';", `did you mean "sql-client.display.max-column-width"?`},
		{"SET 'foo' = 'bar';", `t.sql:1:1: unknown SET key "foo" (SET; lists the known keys; keys of your own start with "user.")`},
		{"SET 'user.' = 'bar';", `unknown SET key "user."`},
		{"RESET 'pipline.name';", `t.sql:1:1: unknown SET key "pipline.name"; did you mean "pipeline.name"?`},
	} {
		err := sessionErr(t, s, c.sql)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s\n got: %v\nwant: %s", c.sql, err, c.want)
		}
	}
	if got := s.Settings(); len(got) != 0 {
		t.Fatalf("refused SETs changed the settings: %v", got)
	}
	// Keys of the user's own namespace are free.
	sessionExec(t, s, "SET 'user.team' = 'data'; RESET 'user.team'; SET 'user.owner' = 'me';")
	if v, _ := s.Setting("user.owner"); v != "me" {
		t.Fatalf("user.owner = %q", v)
	}
}

// TestSetInvalidValues sets an invalid and a valid value of every known
// key; a key added to the table without cases here fails the test.
func TestSetInvalidValues(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct {
		bad  map[string]string // value → part of the error
		good []string
	}{
		"execution.checkpointing.dir": {
			bad: map[string]string{
				"hdfs://nn/x": `scheme "hdfs" is not supported`, "s3://": "with a bucket of 3 to 63", "s3://B/x": "with a bucket",
				"s3://bkt/a/../b": "no '.', '..' or empty parts", "s3://bkt/a//b": "empty parts", "s3://bkt/x?versionId=1": "without a query",
				"file://rel/dir": "expected 'file:///absolute/dir'", " /tmp/x": "spaces around it",
			},
			good: []string{"", "s3://my-bucket", "s3://my-bucket/ckpt/prod/", "s3a://b.example/p", dir, "file://" + dir, "rel/dir"},
		},
		"execution.checkpointing.savepoint-dir": {
			bad:  map[string]string{"gs://b/x": `scheme "gs" is not supported`, "s3://x": "with a bucket"},
			good: []string{"", "s3://my-bucket/savepoints", dir},
		},
		"execution.checkpointing.timeout": {
			bad:  map[string]string{"0": "more than 0", "off": "more than 0", "-1 s": "0 or more", "soon": "invalid interval"},
			good: []string{"10 min", "30 s", "1500"},
		},
		"s3.access-key": {
			bad:  map[string]string{" AKIA": "without spaces around it", "AK\x01": "control characters"},
			good: []string{"AKIAEXAMPLE", ""},
		},
		"s3.secret-key": {
			bad:  map[string]string{"abc ": "(the value is not shown)"},
			good: []string{"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
		},
		"s3.endpoint": {
			bad:  map[string]string{"ftp://h": "http or https", "http://": "a host", "http://h:1/bucket": "no path", "http://u:p@h": "expected an endpoint"},
			good: []string{"", "http://127.0.0.1:8333", "https://s3.eu-west-1.amazonaws.com", "s3.eu-west-1.amazonaws.com", "minio.local:9000"},
		},
		"s3.path.style.access": {
			bad:  map[string]string{"yes": "expected true or false"},
			good: []string{"true", "false"},
		},
		"s3.region": {
			bad:  map[string]string{"eu west": "expected a region"},
			good: []string{"eu-west-1", ""},
		},
		"execution.checkpointing.interval": {
			bad:  map[string]string{"-1 s": `expected a duration of 0 or more`, "-5": "0 or more", "ten seconds": `invalid interval "ten seconds"`, "": "invalid interval"},
			good: []string{"10 s", "500 ms", "1 min", "250", "0", "off"},
		},
		"execution.checkpointing.mode": {
			bad:  map[string]string{"EXACTLY_TWICE": "expected EXACTLY_ONCE or AT_LEAST_ONCE", "": "expected"},
			good: []string{"EXACTLY_ONCE", "at_least_once"},
		},
		"execution.checkpointing.tolerable-failed-checkpoints": {
			bad:  map[string]string{"-1": "expected an integer from 0", "few": "from 0", "": "from 0"},
			good: []string{"0", "3"},
		},
		"execution.savepoint.ignore-unclaimed-state": {
			bad:  map[string]string{"yes please": "expected true or false", "": "expected true or false"},
			good: []string{"true", "false"},
		},
		"execution.savepoint.path": {
			bad:  map[string]string{dir + "/nope": "no savepoint at", "": "expected a savepoint directory"},
			good: []string{dir},
		},
		"parallelism.default": {
			bad:  map[string]string{"0": "expected an integer from 1 to 256", "-2": "from 1 to 256", "257": "from 1 to 256", "two": "from 1 to 256"},
			good: []string{"1", "4", "256"},
		},
		"execution.distributed.repartition-partitions": {
			bad:  map[string]string{"-1": "expected an integer from 0 to 32768", "32769": "from 0 to 32768", "four": "from 0 to 32768"},
			good: []string{"0", "8", "32768"},
		},
		"pipeline.max-parallelism": {
			bad:  map[string]string{"0": "expected an integer from 1 to 32768", "32769": "from 1 to 32768", "many": "from 1 to 32768"},
			good: []string{"1", "128", "32768"},
		},
		"pipeline.name": {
			bad:  map[string]string{"": "expected a job name", "../../x": "must not start with '.'", "a/b": "nor contain '/'", "a\\b": "nor contain", "a\x01": "control characters"},
			good: []string{"orders-hourly", "q_1"},
		},
		"sql-client.display.max-column-width": {
			bad:  map[string]string{"0": "expected an integer from 1", "-1": "from 1", "wide": "from 1"},
			good: []string{"1", "30", "200"},
		},
		"execution.distributed": {
			bad:  map[string]string{"yes please": "expected true or false"},
			good: []string{"true", "false"},
		},
		"sql-client.display.vertical": {
			bad:  map[string]string{"sideways": "expected true or false"},
			good: []string{"true", "false"},
		},
		"sql-client.execution.result-mode": {
			bad:  map[string]string{"chnagelog": "expected tableau or table or changelog", "": "expected"},
			good: []string{"tableau", "changelog", "TABLE"},
		},
		"table.exec.emit.allow-lateness": {
			bad:  map[string]string{"late": "", "-1 s": "0 or more"},
			good: []string{"0", "1 min", "500 ms"},
		},
		"table.exec.emit.early-fire.delay": {
			bad:  map[string]string{"often": "", "-5 s": "0 or more"},
			good: []string{"0", "5 s"},
		},
		"table.exec.emit.early-fire.enabled": {
			bad:  map[string]string{"maybe": "expected true or false"},
			good: []string{"true", "false"},
		},
		"table.exec.emit.late-fire.delay": {
			bad:  map[string]string{"often": "", "-5 s": "0 or more"},
			good: []string{"0", "5 s"},
		},
		"table.exec.emit.late-fire.enabled": {
			bad:  map[string]string{"maybe": "expected true or false"},
			good: []string{"true", "false"},
		},
		"table.exec.mini-batch.allow-latency": {
			bad:  map[string]string{"soon": "", "-1 s": "0 or more"},
			good: []string{"0", "2 s", "500 ms"},
		},
		"table.exec.mini-batch.enabled": {
			bad:  map[string]string{"sometimes": "expected true or false"},
			good: []string{"true", "false"},
		},
		"table.exec.mini-batch.size": {
			bad:  map[string]string{"0": "expected an integer from 1", "lots": "from 1"},
			good: []string{"1", "5000"},
		},
		"table.exec.state.ttl": {
			bad:  map[string]string{"forever": "", "-1 h": "0 or more"},
			good: []string{"0", "1 h", "36 h"},
		},
		"table.local-time-zone": {
			bad:  map[string]string{"Mars/Olympus": "unknown time zone", "+25:00": "unknown time zone", "": "unknown time zone"},
			good: []string{"UTC", "Asia/Shanghai", "America/Los_Angeles", "+08:00", "GMT-05:30"},
		},
		"state.checkpoints.num-retained": {
			bad:  map[string]string{"0": "expected an integer from 1", "-3": "from 1", "many": "from 1"},
			good: []string{"1", "10"},
		},
	}
	for _, k := range engine.SettingKeys() {
		c, ok := cases[k.Name]
		if !ok {
			t.Errorf("no invalid values tested for the known key %q: add them here", k.Name)
			continue
		}
		delete(cases, k.Name)
		s := engine.New(engine.Options{StateDir: t.TempDir()}).NewSession()
		for v, want := range c.bad {
			sql := "SET '" + k.Name + "' = '" + v + "';"
			err := sessionErr(t, s, sql)
			if err == nil || !strings.Contains(err.Error(), "SET "+k.Name+": ") || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: got %v, want an error with %q", sql, err, want)
			}
			if _, set := s.Setting(k.Name); set {
				t.Errorf("%s: the refused value was kept", sql)
			}
		}
		for _, v := range c.good {
			sessionExec(t, s, "SET '"+k.Name+"' = '"+v+"';")
			if got, _ := s.Setting(k.Name); got != v {
				t.Errorf("SET %s = %q: reads back %q", k.Name, v, got)
			}
		}
		if k.Doc == "" || k.Check == nil {
			t.Errorf("key %q lacks a doc or a check", k.Name)
		}
	}
	for k := range cases {
		t.Errorf("cases for %q, which is not a known key", k)
	}
}

// TestSetListsDefaults: SET; lists every known key, with its default or
// the session's value, and the user's keys.
func TestSetListsDefaults(t *testing.T) {
	eng := engine.New(engine.Options{StateDir: t.TempDir(), DefaultJobName: "job"})
	s := eng.NewSession()
	sessionExec(t, s, "SET 'parallelism.default' = '2'; SET 'user.x' = 'y';")
	res := sessionExec(t, s, "SET;")
	if strings.Join(res.Header, ",") != "key,value,source" {
		t.Fatalf("header %v", res.Header)
	}
	got := map[string]string{}
	for _, r := range res.Rows {
		got[r[0]] = r[1] + " (" + r[2] + ")"
	}
	for k, want := range map[string]string{
		"parallelism.default":                 "2 (set)",
		"user.x":                              "y (set)",
		"execution.checkpointing.interval":    "10s (default)",
		"execution.checkpointing.mode":        "EXACTLY_ONCE (default)",
		"pipeline.name":                       "job (default)",
		"sql-client.display.max-column-width": "30 (default)",
		"sql-client.display.vertical":         "false (default)",
		"sql-client.execution.result-mode":    "tableau (default)",
		"state.checkpoints.num-retained":      "3 (default)",
	} {
		if got[k] != want {
			t.Errorf("SET; %s = %q, want %q", k, got[k], want)
		}
	}
	if len(res.Rows) != len(engine.SettingKeys())+1 {
		t.Errorf("SET; lists %d rows, want the %d known keys and user.x: %v", len(res.Rows), len(engine.SettingKeys()), res.Rows)
	}
}
