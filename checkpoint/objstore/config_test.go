package objstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestConfigRedacts(t *testing.T) {
	c := Config{Endpoint: "http://127.0.0.1:1", Region: "eu-west-1", PathStyle: true,
		AccessKey: "AKIAVISIBLE", SecretKey: "wJalrSECRET", SessionToken: "TOKENSECRET", Timeout: time.Second}
	var logBuf bytes.Buffer
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("cfg", "s3", c)
	var jsonLog bytes.Buffer
	slog.New(slog.NewJSONHandler(&jsonLog, nil)).Info("cfg", "s3", c)
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	js2, _ := json.Marshal(struct{ C *Config }{&c})
	outs := map[string]string{
		"%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c),
		"String": c.String(), "%v ptr": fmt.Sprintf("%v", &c), "%+v nested": fmt.Sprintf("%+v", struct{ C Config }{c}),
		"slog text": logBuf.String(), "slog json": jsonLog.String(), "json": string(js), "json ptr": string(js2),
	}
	for name, out := range outs {
		for _, secret := range []string{"AKIAVISIBLE", "wJalrSECRET", "TOKENSECRET"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s leaks %q: %s", name, secret, out)
			}
		}
		if !strings.Contains(out, "***") || !strings.Contains(out, "127.0.0.1:1") {
			t.Errorf("%s = %s: want the endpoint and *** for the keys", name, out)
		}
	}
	// Unset keys print as empty, so a missing credential is visible.
	if s := (Config{Region: "r"}).String(); strings.Contains(s, "***") {
		t.Errorf("empty keys printed as ***: %s", s)
	}
}

func TestFromEnv(t *testing.T) {
	env := map[string]string{
		"AWS_ACCESS_KEY_ID": "envkey", "AWS_SECRET_ACCESS_KEY": "envsecret", "AWS_SESSION_TOKEN": "envtoken",
		"AWS_DEFAULT_REGION": "eu-central-1", "AWS_ENDPOINT_URL": "http://generic:1",
	}
	getenv := func(k string) string { return env[k] }
	got := Config{}.FromEnv(getenv)
	want := Config{Endpoint: "http://generic:1", Region: "eu-central-1", AccessKey: "envkey", SecretKey: "envsecret", SessionToken: "envtoken"}
	if got != want {
		t.Fatalf("FromEnv = %#v, want %#v", got, want)
	}
	env["AWS_REGION"] = "us-west-2"
	env["AWS_ENDPOINT_URL_S3"] = "http://s3specific:2"
	got = Config{}.FromEnv(getenv)
	if got.Region != "us-west-2" || got.Endpoint != "http://s3specific:2" {
		t.Fatalf("FromEnv precedence: %+v", got)
	}
	// Settings win; credentials are never mixed.
	got = Config{Endpoint: "http://set:3", Region: "set", AccessKey: "setkey", SecretKey: "setsecret"}.FromEnv(getenv)
	if got.Endpoint != "http://set:3" || got.Region != "set" || got.AccessKey != "setkey" || got.SecretKey != "setsecret" || got.SessionToken != "" {
		t.Fatalf("FromEnv overrode settings or mixed credentials: %#v", got)
	}
	got = Config{AccessKey: "setkey"}.FromEnv(getenv)
	if got.SecretKey != "" {
		t.Fatalf("FromEnv paired a settings key with the env secret")
	}
	t.Setenv("AWS_REGION", "from-os")
	if got := (Config{}).FromEnv(nil); got.Region != "from-os" {
		t.Fatalf("FromEnv(nil) region = %q, want from-os", got.Region)
	}
}
