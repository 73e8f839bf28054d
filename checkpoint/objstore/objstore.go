package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrNotExist is returned (wrapped; test with errors.Is) by Get and Stat of a
// missing key.
var ErrNotExist = errors.New("objstore: object does not exist")

// Info describes one object.
type Info struct {
	// Key is relative to the Bucket the Info came from.
	Key     string
	Size    int64
	ModTime time.Time
}

// Bucket is a flat key space rooted at a location's prefix. Keys are
// relative and '/'-separated (see the package doc for what is rejected).
// A Bucket is safe for concurrent use. Every method honours ctx: a
// cancelled or expired context ends the call with an error wrapping
// ctx.Err().
type Bucket interface {
	// Put stores the size bytes of r under key, replacing any object there;
	// the object is visible whole or not at all once Put returns nil (S3:
	// one single PUT; local: written beside, fsynced, renamed). r must yield
	// at least size bytes; a shorter r is an error and stores nothing.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// Get opens the object under key for reading; the caller closes it.
	// A missing key is ErrNotExist.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Stat describes the object under key. A missing key is ErrNotExist.
	Stat(ctx context.Context, key string) (Info, error)
	// List returns every object whose key starts with prefix (a plain string
	// prefix, "" for all), recursively, sorted by key.
	List(ctx context.Context, prefix string) ([]Info, error)
	// Delete removes the object under key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// String is the location without credentials, e.g. "s3://bucket/prefix"
	// or "/abs/dir".
	String() string
}

// IsRemote reports whether location names an object store (s3://, s3a://,
// s3p://) rather than a local directory (a plain path or file://).
func IsRemote(location string) bool {
	scheme, _, ok := strings.Cut(location, "://")
	if !ok {
		return false
	}
	switch strings.ToLower(scheme) {
	case "s3", "s3a", "s3p":
		return true
	}
	return false
}

// Open returns the Bucket for location: "s3://bucket/prefix" (also s3a://
// and s3p://, Hadoop's and Presto's names for the same), reached with cfg,
// or a local directory ("file:///abs", "/abs", "rel"), created if missing.
// Open does not contact S3; the first request does. Errors name the
// location, never credentials.
func Open(ctx context.Context, location string, cfg Config) (Bucket, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("objstore: open %q: %w", location, err)
	}
	if strings.TrimSpace(location) == "" {
		return nil, errors.New("objstore: open: empty location")
	}
	if IsRemote(location) {
		bucket, prefix, err := parseS3(location)
		if err != nil {
			return nil, fmt.Errorf("objstore: open %q: %w", location, err)
		}
		return openS3(bucket, prefix, cfg)
	}
	dir, err := localPath(location)
	if err != nil {
		return nil, fmt.Errorf("objstore: open %q: %w", location, err)
	}
	return openDir(dir)
}

// parseS3 splits "s3://bucket/some/prefix/" into "bucket" and "some/prefix".
func parseS3(location string) (bucket, prefix string, err error) {
	_, rest, _ := strings.Cut(location, "://")
	if strings.ContainsAny(rest, "?#") {
		return "", "", errors.New(`an s3 location has no query or fragment ("s3://bucket/prefix")`)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", errors.New(`no bucket (expected "s3://bucket/prefix")`)
	}
	if !validBucketName(bucket) {
		return "", "", fmt.Errorf("invalid bucket name %q (3-63 characters: lowercase letters, digits, '.', '-')", bucket)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" {
		if err := checkKey(prefix); err != nil {
			return "", "", fmt.Errorf("prefix: %w", err)
		}
	}
	return bucket, prefix, nil
}

func validBucketName(b string) bool {
	if len(b) < 3 || len(b) > 63 {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '.' || c == '-':
			if i == 0 || i == len(b)-1 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// localPath turns "file:///abs", "/abs" or "rel" into a clean absolute path.
func localPath(location string) (string, error) {
	p := location
	if scheme, _, ok := strings.Cut(location, "://"); ok {
		if !strings.EqualFold(scheme, "file") {
			return "", fmt.Errorf("unsupported scheme %q (expected s3://, file:// or a path)", scheme)
		}
		u, err := url.Parse(location)
		if err != nil {
			return "", err
		}
		if u.Host != "" && u.Host != "localhost" {
			return "", fmt.Errorf("file location with host %q (expected file:///abs/path)", u.Host)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return "", errors.New("a file location has no query or fragment")
		}
		p = u.Path
		if p == "" {
			return "", errors.New("file location without a path")
		}
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return abs, nil
}

// checkKey rejects keys that are not relative, '/'-separated and clean.
func checkKey(key string) error {
	if key == "" {
		return errors.New("empty key")
	}
	if strings.HasPrefix(key, "/") {
		return fmt.Errorf("key %q is absolute (keys are relative)", key)
	}
	if strings.ContainsAny(key, "\\\x00") {
		return fmt.Errorf("key %q contains a backslash or NUL", key)
	}
	for _, seg := range strings.Split(key, "/") {
		switch seg {
		case "":
			return fmt.Errorf("key %q has an empty segment", key)
		case ".", "..":
			return fmt.Errorf("key %q has a %q segment", key, seg)
		}
	}
	return nil
}

// join appends key to a location string.
func join(loc, key string) string {
	if key == "" {
		return loc
	}
	if strings.HasSuffix(loc, "/") {
		return loc + key
	}
	return loc + "/" + key
}

// Sub returns b rooted at b's prefix + "/" + prefix: its keys are relative
// to that, and its String names it. An empty prefix returns b. An invalid
// prefix (see the package doc) makes every call of the returned Bucket fail
// with an error saying so.
func Sub(b Bucket, prefix string) Bucket {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return b
	}
	if s, ok := b.(*subBucket); ok && s.err == nil {
		return &subBucket{parent: s.parent, prefix: s.prefix + "/" + prefix, err: checkKey(prefix)}
	}
	return &subBucket{parent: b, prefix: prefix, err: checkKey(prefix)}
}

type subBucket struct {
	parent Bucket
	prefix string // no leading or trailing '/'
	err    error  // an invalid prefix
}

var _ Bucket = (*subBucket)(nil)

func (s *subBucket) full(op, key string) (string, error) {
	if s.err != nil {
		return "", fmt.Errorf("objstore: %s %s: prefix: %w", op, join(s.String(), key), s.err)
	}
	if err := checkKey(key); err != nil {
		return "", fmt.Errorf("objstore: %s %s: %w", op, s.String(), err)
	}
	return s.prefix + "/" + key, nil
}

// Put implements Bucket.
func (s *subBucket) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	k, err := s.full("put", key)
	if err != nil {
		return err
	}
	return s.parent.Put(ctx, k, r, size)
}

// Get implements Bucket.
func (s *subBucket) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	k, err := s.full("get", key)
	if err != nil {
		return nil, err
	}
	return s.parent.Get(ctx, k)
}

// Stat implements Bucket.
func (s *subBucket) Stat(ctx context.Context, key string) (Info, error) {
	k, err := s.full("stat", key)
	if err != nil {
		return Info{}, err
	}
	in, err := s.parent.Stat(ctx, k)
	if err != nil {
		return Info{}, err
	}
	in.Key = key
	return in, nil
}

// List implements Bucket.
func (s *subBucket) List(ctx context.Context, prefix string) ([]Info, error) {
	if s.err != nil {
		return nil, fmt.Errorf("objstore: list %s: prefix: %w", s.String(), s.err)
	}
	p := s.prefix + "/"
	infos, err := s.parent.List(ctx, p+prefix)
	if err != nil {
		return nil, err
	}
	for i := range infos {
		infos[i].Key = strings.TrimPrefix(infos[i].Key, p)
	}
	return infos, nil
}

// Delete implements Bucket.
func (s *subBucket) Delete(ctx context.Context, key string) error {
	k, err := s.full("delete", key)
	if err != nil {
		return err
	}
	return s.parent.Delete(ctx, k)
}

// String implements Bucket.
func (s *subBucket) String() string { return join(s.parent.String(), s.prefix) }

// notExistError is ErrNotExist for one operation and object, without the
// sentinel's prefix repeated.
type notExistError struct{ op, loc string }

func (e *notExistError) Error() string {
	return "objstore: " + e.op + " " + e.loc + ": object does not exist"
}

func (e *notExistError) Is(target error) bool { return target == ErrNotExist }

// ctxReader fails a read once ctx is done, so a long copy stops promptly.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// isNotExist also covers ENOTDIR: "a/b" when "a" is a file.
func isNotExist(err error) bool {
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, errNotDir)
}
