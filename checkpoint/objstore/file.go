package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// tmpMarker is in the name of every temporary file Put writes; keys may not
// contain it, and List, Get and Stat never show such files.
const tmpMarker = ".objstore-tmp-"

var errNotDir = syscall.ENOTDIR

// dirBucket is a Bucket on a local directory: key "a/b" is file DIR/a/b.
type dirBucket struct {
	dir string // absolute, clean
}

var _ Bucket = (*dirBucket)(nil)

func openDir(dir string) (*dirBucket, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("objstore: open %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("objstore: open %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("objstore: open %s: not a directory", dir)
	}
	return &dirBucket{dir: dir}, nil
}

// String implements Bucket.
func (d *dirBucket) String() string { return d.dir }

func (d *dirBucket) path(op, key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", fmt.Errorf("objstore: %s %s: %w", op, d.dir, err)
	}
	if strings.Contains(key, tmpMarker) {
		return "", fmt.Errorf("objstore: %s %s: key %q contains %q, reserved for temporary files", op, d.dir, key, tmpMarker)
	}
	return filepath.Join(d.dir, filepath.FromSlash(key)), nil
}

// Put implements Bucket: a temporary file beside the target, fsynced,
// renamed over it, then the directory fsynced.
func (d *dirBucket) Put(ctx context.Context, key string, r io.Reader, size int64) (err error) {
	p, err := d.path("put", key)
	if err != nil {
		return err
	}
	fail := func(err error) error { return fmt.Errorf("objstore: put %s: %w", p, err) }
	if size < 0 {
		return fail(fmt.Errorf("negative size %d", size))
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	parent := filepath.Dir(p)
	var f *os.File
	// A concurrent Delete may remove an emptied ancestor while MkdirAll
	// makes the path (it is not atomic), or the parent between MkdirAll
	// and CreateTemp: make it again.
	for attempt := 0; ; attempt++ {
		err := os.MkdirAll(parent, 0o755)
		if err == nil {
			f, err = os.CreateTemp(parent, filepath.Base(p)+tmpMarker+"*")
			if err == nil {
				break
			}
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt >= 5 {
			return fail(err)
		}
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	n, err := io.CopyN(f, ctxReader{ctx, r}, size)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return fail(fmt.Errorf("short input: %d of %d bytes", n, size))
		}
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fail(err)
	}
	if err := syncDir(parent); err != nil {
		return fail(err)
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Get implements Bucket.
func (d *dirBucket) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	p, err := d.path("get", key)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("objstore: get %s: %w", p, err)
	}
	f, err := os.Open(p)
	if err != nil {
		if isNotExist(err) {
			return nil, &notExistError{"get", p}
		}
		return nil, fmt.Errorf("objstore: get %s: %w", p, err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("objstore: get %s: %w", p, err)
	}
	if fi.IsDir() {
		_ = f.Close()
		return nil, &notExistError{"get", p}
	}
	return f, nil
}

// Stat implements Bucket.
func (d *dirBucket) Stat(ctx context.Context, key string) (Info, error) {
	p, err := d.path("stat", key)
	if err != nil {
		return Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return Info{}, fmt.Errorf("objstore: stat %s: %w", p, err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		if isNotExist(err) {
			return Info{}, &notExistError{"stat", p}
		}
		return Info{}, fmt.Errorf("objstore: stat %s: %w", p, err)
	}
	if !fi.Mode().IsRegular() {
		return Info{}, &notExistError{"stat", p}
	}
	return Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// List implements Bucket: it walks the deepest directory the prefix names
// and keeps the regular files whose key starts with prefix.
func (d *dirBucket) List(ctx context.Context, prefix string) ([]Info, error) {
	fail := func(err error) error { return fmt.Errorf("objstore: list %s: %w", join(d.dir, prefix), err) }
	if strings.ContainsAny(prefix, "\\\x00") || strings.HasPrefix(prefix, "/") {
		return nil, fail(fmt.Errorf("invalid prefix %q", prefix))
	}
	root := d.dir
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		sub := prefix[:i]
		if err := checkKey(sub); err != nil {
			// "a//b", "../x": no key can start with it.
			return nil, nil
		}
		root = filepath.Join(d.dir, filepath.FromSlash(sub))
	}
	var out []Info
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if p == root && isNotExist(err) {
				return fs.SkipAll
			}
			// Removed by a concurrent Delete while walking: not there.
			if isNotExist(err) {
				return nil
			}
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if e.IsDir() || !e.Type().IsRegular() || strings.Contains(e.Name(), tmpMarker) {
			return nil
		}
		rel, err := filepath.Rel(d.dir, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			if isNotExist(err) {
				return nil
			}
			return err
		}
		out = append(out, Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fail(err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete implements Bucket; it also removes the directories the delete
// leaves empty, up to (not including) the bucket's directory.
func (d *dirBucket) Delete(ctx context.Context, key string) error {
	p, err := d.path("delete", key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("objstore: delete %s: %w", p, err)
	}
	fi, err := os.Lstat(p)
	if err != nil {
		if isNotExist(err) {
			return nil
		}
		return fmt.Errorf("objstore: delete %s: %w", p, err)
	}
	if fi.IsDir() {
		return nil // not an object
	}
	if err := os.Remove(p); err != nil && !isNotExist(err) {
		return fmt.Errorf("objstore: delete %s: %w", p, err)
	}
	for dir := filepath.Dir(p); strings.HasPrefix(dir, d.dir+string(filepath.Separator)); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break // not empty (or gone): stop
		}
	}
	return nil
}
