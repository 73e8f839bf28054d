package s3test_test

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/internal/s3test"
)

// Two servers at once, as tests of different packages run. (Restart, which
// costs ~15 s, is tested in checkpoint/objstore.)
func TestTwoServers(t *testing.T) {
	a, b := s3test.Start(t), s3test.Start(t)
	if a.Endpoint == b.Endpoint {
		t.Fatalf("two servers share %s", a.Endpoint)
	}
	ctx := context.Background()
	ba, bb := a.Open(t, "x"), b.Open(t, "x")
	if err := ba.Put(ctx, "k", strings.NewReader("in a"), 4); err != nil {
		t.Fatal(err)
	}
	if infos, err := bb.List(ctx, ""); err != nil || len(infos) != 0 {
		t.Fatalf("server b sees %v (%v), want nothing", infos, err)
	}
	// The readiness probe leaves nothing behind.
	if infos, err := a.Open(t, "").List(ctx, ""); err != nil || len(infos) != 1 {
		t.Fatalf("bucket of a holds %v (%v), want only x/k", infos, err)
	}
	a.Pause(t)
	a.Resume(t)
	rc, err := ba.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	_ = rc.Close()
	if string(got) != "in a" {
		t.Fatalf("after pause and resume k = %q", got)
	}
	env := strings.Join(a.Env(), " ")
	if !strings.Contains(env, "AWS_SECRET_ACCESS_KEY="+a.SecretKey) || !strings.Contains(env, "AWS_ACCESS_KEY_ID="+a.AccessKey) {
		t.Fatalf("Env = %q", env)
	}
	if a.URL("/p/") != "s3://ckpt/p" || a.URL("") != "s3://ckpt" {
		t.Fatalf("URL = %q, %q", a.URL("/p/"), a.URL(""))
	}
}

func TestMissingBinary(t *testing.T) {
	t.Setenv("STREAMSQL_WEED", "/nonexistent/weed")
	if bin, hint := s3test.Binary(); bin != "" || !strings.Contains(hint, "/nonexistent/weed") {
		t.Fatalf("Binary() = %q, %q", bin, hint)
	}
	if os.Getenv("STREAMSQL_REQUIRE_S3") == "1" {
		return // Start would fail the test, as it must in CI
	}
	ok := t.Run("skips", func(t *testing.T) {
		s3test.Start(t)
		t.Error("Start with no binary returned")
	})
	if !ok {
		t.Fatal("Start with no binary failed instead of skipping")
	}
}
