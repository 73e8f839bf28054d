package objstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/streamsql/streamsql/checkpoint/objstore"
	"github.com/streamsql/streamsql/internal/s3test"
)

// One server for the package's S3 tests: starting one takes seconds.
func TestS3(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()

	t.Run("contract", func(t *testing.T) {
		objstore.RunBucketContract(t, srv.Open(t, "contract"))
	})
	t.Run("contract whole bucket", func(t *testing.T) {
		b := srv.Open(t, "")
		if b.String() != "s3://ckpt" {
			t.Fatalf("String = %q", b.String())
		}
		objstore.RunBucketContract(t, b)
	})

	t.Run("string and scheme aliases", func(t *testing.T) {
		for _, loc := range []string{"s3://ckpt/a/b/", "s3a://ckpt/a/b", "S3P://ckpt//a/b"} {
			b, err := objstore.Open(ctx, loc, srv.Config())
			if err != nil {
				t.Fatal(err)
			}
			if b.String() != "s3://ckpt/a/b" {
				t.Errorf("Open(%q).String() = %q, want s3://ckpt/a/b", loc, b.String())
			}
		}
	})

	t.Run("large object", func(t *testing.T) {
		b := srv.Open(t, "large")
		data := make([]byte, 17<<20+123) // above minio's 16 MiB default part size
		_, _ = rand.Read(data)
		// Not seekable: one streamed single PUT.
		if err := b.Put(ctx, "big.sst", io.MultiReader(bytes.NewReader(data)), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		rc, err := b.Get(ctx, "big.sst")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes (%v), want the %d written", len(got), err, len(data))
		}
		// Seekable input (a file, as the checkpoint uploads use).
		if err := b.Put(ctx, "big2.sst", bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		in, err := b.Stat(ctx, "big2.sst")
		if err != nil || in.Size != int64(len(data)) {
			t.Fatalf("stat = %+v, %v", in, err)
		}
		// A seekable input shorter than size stores nothing either.
		if err := b.Put(ctx, "short.sst", bytes.NewReader(data[:100]), 200); err == nil {
			t.Fatal("short seekable put: no error")
		}
		if _, err := b.Stat(ctx, "short.sst"); !errors.Is(err, objstore.ErrNotExist) {
			t.Fatalf("short seekable put stored an object: %v", err)
		}
	})

	t.Run("wrong secret", func(t *testing.T) {
		cfg := srv.Config()
		cfg.SecretKey = "wrong-" + srv.SecretKey
		b, err := objstore.Open(ctx, srv.URL("auth"), cfg)
		if err != nil {
			t.Fatal(err)
		}
		err = b.Put(ctx, "k", strings.NewReader("x"), 1)
		if err == nil {
			t.Fatal("put with a wrong secret: no error")
		}
		msg := err.Error()
		if !strings.Contains(msg, "access denied") || !strings.HasPrefix(msg, "objstore: put s3://ckpt/auth/k: ") {
			t.Fatalf("wrong secret error = %q, want a clear access-denied error naming the object", msg)
		}
		if strings.Contains(msg, srv.SecretKey) || strings.Contains(msg, srv.AccessKey) {
			t.Fatalf("error leaks credentials: %q", msg)
		}
		if _, err := b.List(ctx, ""); err == nil || !strings.Contains(err.Error(), "access denied") {
			t.Fatalf("list with a wrong secret: %v", err)
		}
		// Anonymous access is refused too (the server has identities).
		anon := srv.Config()
		anon.AccessKey, anon.SecretKey = "", ""
		ab, _ := objstore.Open(ctx, srv.URL("auth"), anon)
		if _, err := ab.Get(ctx, "k"); err == nil || errors.Is(err, objstore.ErrNotExist) {
			t.Fatalf("anonymous get: %v, want access denied", err)
		}
	})

	t.Run("no such bucket", func(t *testing.T) {
		b, err := objstore.Open(ctx, "s3://nosuchbucket/x", srv.Config())
		if err != nil {
			t.Fatal(err)
		}
		err = b.Put(ctx, "k", strings.NewReader("x"), 1)
		if err == nil || !strings.Contains(err.Error(), `bucket "nosuchbucket" does not exist`) {
			t.Fatalf("put into a missing bucket: %v", err)
		}
	})

	// Faults last: they stop the server.
	t.Run("paused server times out", func(t *testing.T) {
		cfg := srv.Config()
		cfg.Timeout = time.Second
		b, err := objstore.Open(ctx, srv.URL("pause"), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Put(ctx, "before", strings.NewReader("x"), 1); err != nil {
			t.Fatal(err)
		}
		srv.Pause(t)
		start := time.Now()
		_, err = b.Stat(ctx, "before")
		took := time.Since(start)
		srv.Resume(t)
		if err == nil {
			t.Fatal("stat on a paused server: no error")
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("paused stat error %q should be a deadline", err)
		}
		// 1 s per attempt; minio retries at most 3 times with short backoff.
		if took > 8*time.Second {
			t.Fatalf("paused stat took %s, want it bounded by the timeout", took)
		}
		t.Logf("paused stat failed after %s: %v", took.Round(time.Millisecond), err)
		if err := waitOK(ctx, func() error { _, err := b.Stat(ctx, "before"); return err }); err != nil {
			t.Fatalf("after resume: %v", err)
		}
	})

	t.Run("stopped server then restart", func(t *testing.T) {
		cfg := srv.Config()
		cfg.Timeout = 2 * time.Second
		b, err := objstore.Open(ctx, srv.URL("outage"), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Put(ctx, "kept", strings.NewReader("durable"), 7); err != nil {
			t.Fatal(err)
		}
		srv.Stop(t)
		start := time.Now()
		err = b.Put(ctx, "during", strings.NewReader("x"), 1)
		took := time.Since(start)
		if err == nil {
			t.Fatal("put to a stopped server: no error")
		}
		if took > 10*time.Second {
			t.Fatalf("put to a stopped server took %s", took)
		}
		if !strings.HasPrefix(err.Error(), "objstore: put s3://ckpt/outage/during: ") || strings.Contains(err.Error(), srv.SecretKey) {
			t.Fatalf("stopped server error = %q", err)
		}
		t.Logf("stopped server: put failed after %s: %v", took.Round(time.Millisecond), err)
		// The caller's context bounds everything, retries included.
		cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		start = time.Now()
		_, err = b.List(cctx, "")
		cancel()
		if err == nil || time.Since(start) > 2*time.Second {
			t.Fatalf("list with a 300ms context on a stopped server: %v after %s", err, time.Since(start))
		}
		srv.Restart(t)
		if err := waitOK(ctx, func() error { return b.Put(ctx, "after", strings.NewReader("y"), 1) }); err != nil {
			t.Fatalf("after restart: %v", err)
		}
		rc, err := b.Get(ctx, "kept")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		_ = rc.Close()
		if string(got) != "durable" {
			t.Fatalf("after restart kept = %q", got)
		}
	})
}

// waitOK retries f for up to 10 s: a restarted or resumed server may need
// a moment before every part answers.
func waitOK(ctx context.Context, f func() error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
