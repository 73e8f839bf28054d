package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
)

// testBucket runs the Bucket contract against b, which must be empty. It is
// shared by the local-directory and the S3 implementation's tests.
func testBucket(t *testing.T, b Bucket) {
	ctx := context.Background()
	put := func(t *testing.T, key, body string) {
		t.Helper()
		if err := b.Put(ctx, key, strings.NewReader(body), int64(len(body))); err != nil {
			t.Fatalf("put %q: %v", key, err)
		}
	}
	get := func(t *testing.T, key string) string {
		t.Helper()
		rc, err := b.Get(ctx, key)
		if err != nil {
			t.Fatalf("get %q: %v", key, err)
		}
		defer rc.Close()
		data, err := io.ReadAll(rc)
		if err != nil {
			t.Fatalf("read %q: %v", key, err)
		}
		return string(data)
	}
	keys := func(t *testing.T, prefix string) string {
		t.Helper()
		infos, err := b.List(ctx, prefix)
		if err != nil {
			t.Fatalf("list %q: %v", prefix, err)
		}
		var ks []string
		for _, in := range infos {
			ks = append(ks, fmt.Sprintf("%s:%d", in.Key, in.Size))
		}
		return strings.Join(ks, " ")
	}

	t.Run("roundtrip", func(t *testing.T) {
		put(t, "a/b/c.sst", "hello")
		put(t, "top", "")
		if got := get(t, "a/b/c.sst"); got != "hello" {
			t.Fatalf("get = %q, want hello", got)
		}
		if got := get(t, "top"); got != "" {
			t.Fatalf("get empty object = %q", got)
		}
		in, err := b.Stat(ctx, "a/b/c.sst")
		if err != nil {
			t.Fatal(err)
		}
		if in.Key != "a/b/c.sst" || in.Size != 5 || in.ModTime.IsZero() {
			t.Fatalf("stat = %+v", in)
		}
		put(t, "a/b/c.sst", "replaced!")
		if got := get(t, "a/b/c.sst"); got != "replaced!" {
			t.Fatalf("after overwrite get = %q", got)
		}
		for _, k := range []string{"a/b/c.sst", "top"} {
			if err := b.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		if got := keys(t, ""); got != "" {
			t.Fatalf("after delete list = %q", got)
		}
	})

	t.Run("missing", func(t *testing.T) {
		_, err := b.Get(ctx, "no/such/key")
		if !errors.Is(err, ErrNotExist) {
			t.Fatalf("get missing: %v, want ErrNotExist", err)
		}
		if !strings.Contains(err.Error(), "no/such/key") || strings.Count(err.Error(), "objstore:") != 1 {
			t.Fatalf("get missing error %q should name the key once-prefixed", err)
		}
		if _, err := b.Stat(ctx, "no/such/key"); !errors.Is(err, ErrNotExist) {
			t.Fatalf("stat missing: %v, want ErrNotExist", err)
		}
		if err := b.Delete(ctx, "no/such/key"); err != nil {
			t.Fatalf("delete missing: %v", err)
		}
		// A "directory" of other keys is not an object.
		put(t, "dir/x", "1")
		if _, err := b.Stat(ctx, "dir"); !errors.Is(err, ErrNotExist) {
			t.Fatalf("stat of a key prefix: %v, want ErrNotExist", err)
		}
		if err := b.Delete(ctx, "dir/x"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("list", func(t *testing.T) {
		for _, k := range []string{"chk-10/_metadata", "chk-1/_metadata", "chk-1/a", "shared/02.sst", "shared/01.sst", "chk-2"} {
			put(t, k, k)
		}
		if got, want := keys(t, ""), "chk-1/_metadata:15 chk-1/a:7 chk-10/_metadata:16 chk-2:5 shared/01.sst:13 shared/02.sst:13"; got != want {
			t.Fatalf("list all =\n %s\nwant\n %s", got, want)
		}
		if got, want := keys(t, "chk-1"), "chk-1/_metadata:15 chk-1/a:7 chk-10/_metadata:16"; got != want {
			t.Fatalf("list chk-1 = %s, want %s", got, want)
		}
		if got, want := keys(t, "chk-1/"), "chk-1/_metadata:15 chk-1/a:7"; got != want {
			t.Fatalf("list chk-1/ = %s, want %s", got, want)
		}
		if got, want := keys(t, "shared/0"), "shared/01.sst:13 shared/02.sst:13"; got != want {
			t.Fatalf("list shared/0 = %s, want %s", got, want)
		}
		if got := keys(t, "nothing/"); got != "" {
			t.Fatalf("list nothing/ = %q", got)
		}
		infos, _ := b.List(ctx, "")
		for _, in := range infos {
			if err := b.Delete(ctx, in.Key); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("bad keys", func(t *testing.T) {
		for _, k := range []string{"", "/abs", "a//b", "a/../b", "..", "./a", "a/", "a\\b", "a\x00b"} {
			if err := b.Put(ctx, k, strings.NewReader("x"), 1); err == nil {
				t.Errorf("put %q: no error", k)
			}
			if _, err := b.Get(ctx, k); err == nil || errors.Is(err, ErrNotExist) {
				t.Errorf("get %q: %v, want a key error", k, err)
			}
			if err := b.Delete(ctx, k); err == nil {
				t.Errorf("delete %q: no error", k)
			}
		}
		if got := keys(t, ""); got != "" {
			t.Fatalf("bad keys stored something: %q", got)
		}
	})

	t.Run("short input stores nothing", func(t *testing.T) {
		put(t, "k", "old")
		err := b.Put(ctx, "k", strings.NewReader("abc"), 10)
		if err == nil {
			t.Fatal("put of 3 bytes with size 10: no error")
		}
		if got := get(t, "k"); got != "old" {
			t.Fatalf("after failed put get = %q, want old", got)
		}
		if err := b.Put(ctx, "k2", strings.NewReader("abc"), 10); err == nil {
			t.Fatal("short put of a new key: no error")
		}
		if _, err := b.Stat(ctx, "k2"); !errors.Is(err, ErrNotExist) {
			t.Fatalf("short put left an object: %v", err)
		}
		if err := b.Put(ctx, "k", strings.NewReader("abc"), -1); err == nil {
			t.Fatal("negative size: no error")
		}
		_ = b.Delete(ctx, "k")
	})

	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := b.Put(cctx, "c", strings.NewReader("x"), 1); !errors.Is(err, context.Canceled) {
			t.Fatalf("put with cancelled ctx: %v", err)
		}
		if _, err := b.List(cctx, ""); !errors.Is(err, context.Canceled) {
			t.Fatalf("list with cancelled ctx: %v", err)
		}
		if _, err := b.Stat(ctx, "c"); !errors.Is(err, ErrNotExist) {
			t.Fatalf("cancelled put stored an object: %v", err)
		}
	})

	t.Run("sub", func(t *testing.T) {
		s := Sub(Sub(b, "jobs/"), "/my job")
		if got, want := s.String(), b.String()+"/jobs/my job"; got != want {
			t.Fatalf("sub String = %q, want %q", got, want)
		}
		if err := s.Put(ctx, "chk-1/_metadata", strings.NewReader("m"), 1); err != nil {
			t.Fatal(err)
		}
		put(t, "jobs/my jobx", "other")
		infos, err := s.List(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(infos) != 1 || infos[0].Key != "chk-1/_metadata" {
			t.Fatalf("sub list = %+v", infos)
		}
		in, err := s.Stat(ctx, "chk-1/_metadata")
		if err != nil || in.Key != "chk-1/_metadata" || in.Size != 1 {
			t.Fatalf("sub stat = %+v, %v", in, err)
		}
		if got := get(t, "jobs/my job/chk-1/_metadata"); got != "m" {
			t.Fatalf("through parent = %q", got)
		}
		if err := s.Put(ctx, "../escape", strings.NewReader("x"), 1); err == nil {
			t.Fatal("sub put ../escape: no error")
		}
		if err := Sub(b, "a/../b").Put(ctx, "k", strings.NewReader("x"), 1); err == nil || !strings.Contains(err.Error(), "prefix") {
			t.Fatalf("invalid sub prefix: %v", err)
		}
		_ = s.Delete(ctx, "chk-1/_metadata")
		_ = b.Delete(ctx, "jobs/my jobx")
	})

	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 10; i++ {
					k := fmt.Sprintf("conc/%d/%d", w, i)
					body := bytes.Repeat([]byte{byte(w)}, 1000+i)
					if err := b.Put(ctx, k, bytes.NewReader(body), int64(len(body))); err != nil {
						errs <- err
						return
					}
					if i%2 == 0 {
						if err := b.Delete(ctx, k); err != nil {
							errs <- err
							return
						}
					}
					if _, err := b.List(ctx, "conc/"); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		infos, err := b.List(ctx, "conc/")
		if err != nil {
			t.Fatal(err)
		}
		if len(infos) != 8*5 {
			t.Fatalf("after concurrent puts: %d objects, want 40", len(infos))
		}
		for _, in := range infos {
			_ = b.Delete(ctx, in.Key)
		}
	})
}
