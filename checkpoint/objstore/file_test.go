package objstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDirBucket(t *testing.T) {
	b, err := Open(context.Background(), t.TempDir(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	testBucket(t, b)
}

func TestDirBucketFiles(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "new", "dir")
	b, err := Open(ctx, "file://"+dir, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != dir {
		t.Fatalf("String = %q, want %q", b.String(), dir)
	}
	if err := b.Put(ctx, "x/y/z", strings.NewReader("data"), 4); err != nil {
		t.Fatal(err)
	}
	// What a crash between CreateTemp and Rename leaves is never seen.
	leftover := filepath.Join(dir, "x", "y", "z"+tmpMarker+"123")
	if err := os.WriteFile(leftover, []byte("torn"), 0o644); err != nil {
		t.Fatal(err)
	}
	infos, err := b.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].Key != "x/y/z" {
		t.Fatalf("list = %+v, want only x/y/z", infos)
	}
	if _, err := b.Stat(ctx, "x/y/z"+tmpMarker+"123"); err == nil {
		t.Fatal("stat of a temporary file name: no error")
	}
	if err := os.Remove(leftover); err != nil {
		t.Fatal(err)
	}
	// A successful Put leaves no temporary file.
	ents, _ := os.ReadDir(filepath.Join(dir, "x", "y"))
	if len(ents) != 1 || ents[0].Name() != "z" {
		t.Fatalf("dir holds %v, want only z", ents)
	}
	// A file and a "directory" of the same name cannot coexist here.
	if err := b.Put(ctx, "x/y", strings.NewReader("d"), 1); err == nil {
		t.Fatal("put over a directory: no error")
	}
	if err := b.Put(ctx, "x/y/z/w", strings.NewReader("d"), 1); err == nil {
		t.Fatal("put under a file: no error")
	}
	if _, err := b.Get(ctx, "x/y/z/w"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("get under a file: %v, want ErrNotExist", err)
	}
	// Delete prunes the directories it empties, not the root.
	if err := b.Delete(ctx, "x/y/z"); err != nil {
		t.Fatal(err)
	}
	ents, err = os.ReadDir(dir)
	if err != nil || len(ents) != 0 {
		t.Fatalf("after delete the root holds %v (%v), want it empty and present", ents, err)
	}
	// The reserved marker cannot be a key.
	if err := b.Put(ctx, "a"+tmpMarker+"b", strings.NewReader("x"), 1); err == nil {
		t.Fatal("put of a key with the temporary marker: no error")
	}
	// A longer reader is cut at size.
	if err := b.Put(ctx, "cut", strings.NewReader("abcdef"), 3); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "cut")); string(data) != "abc" {
		t.Fatalf("cut = %q, want abc", data)
	}
}

func TestOpenLocations(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	t.Chdir(tmp)
	b, err := Open(ctx, "rel/dir", Config{})
	if err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(tmp)
	if got := b.String(); got != filepath.Join(tmp, "rel", "dir") && got != filepath.Join(real, "rel", "dir") {
		t.Fatalf("relative location String = %q", got)
	}
	if fi, err := os.Stat(filepath.Join(tmp, "rel", "dir")); err != nil || !fi.IsDir() {
		t.Fatalf("relative location not created: %v", err)
	}
	if _, err := Open(ctx, "file://localhost"+tmp, Config{}); err != nil {
		t.Fatalf("file://localhost/…: %v", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "afile"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ loc, want string }{
		{"", "empty location"},
		{"  ", "empty location"},
		{"hdfs://nn/x", `unsupported scheme "hdfs"`},
		{"file://otherhost/x", `host "otherhost"`},
		{"file://", "without a path"},
		{filepath.Join(tmp, "afile"), "not a directory"},
		{"s3://", "no bucket"},
		{"s3:///prefix", "no bucket"},
		{"s3://Bad_Bucket/x", "invalid bucket name"},
		{"s3://bucket/a/../b", `".." segment`},
		{"s3://bucket/x?versionId=1", "no query"},
	} {
		_, err := Open(ctx, tc.loc, Config{SecretKey: "sekrit-value"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %v, want an error containing %q", tc.loc, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "sekrit") || !strings.HasPrefix(err.Error(), "objstore: ") {
			t.Errorf("Open(%q) error %q: want one objstore prefix and no secret", tc.loc, err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Open(cctx, tmp, Config{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Open with cancelled ctx: %v", err)
	}
}

func TestIsRemote(t *testing.T) {
	for loc, want := range map[string]bool{
		"s3://b/p": true, "S3://b": true, "s3a://b/p": true, "s3p://b": true,
		"/abs": false, "rel": false, "file:///x": false, "hdfs://x": false, "s3:/b": false, "": false,
	} {
		if got := IsRemote(loc); got != want {
			t.Errorf("IsRemote(%q) = %t, want %t", loc, got, want)
		}
	}
}

func TestParseS3(t *testing.T) {
	for loc, want := range map[string][2]string{
		"s3://ckpt":               {"ckpt", ""},
		"s3://ckpt/":              {"ckpt", ""},
		"s3a://ckpt/jobs/a/":      {"ckpt", "jobs/a"},
		"s3://my.bucket-1//x/y//": {"my.bucket-1", "x/y"},
	} {
		b, p, err := parseS3(loc)
		if err != nil || b != want[0] || p != want[1] {
			t.Errorf("parseS3(%q) = %q, %q, %v; want %q, %q", loc, b, p, err, want[0], want[1])
		}
	}
}
