package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

const (
	defaultTimeout = 30 * time.Second
	defaultRegion  = "us-east-1"
	// s3MaxRetries bounds minio's own retries of one request (its default
	// is 10); the checkpoint layer retries at the next interval.
	s3MaxRetries = 3
	// s3PartSize: objects up to this size go in one single PUT; bigger ones
	// in a multipart upload (also atomic: visible only once completed).
	s3PartSize = 64 << 20
)

// s3Bucket is a Bucket on an S3-compatible bucket and prefix.
type s3Bucket struct {
	core    *minio.Core
	bucket  string
	prefix  string // no leading or trailing '/'; "" for the whole bucket
	timeout time.Duration
	secrets []string // scrubbed from every error, in case a server echoes them
}

var _ Bucket = (*s3Bucket)(nil)

func openS3(bucket, prefix string, cfg Config) (Bucket, error) {
	loc := "s3://" + bucket
	if prefix != "" {
		loc += "/" + prefix
	}
	host, secure, err := parseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("objstore: open %s: %w", loc, err)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	region := cfg.Region
	if region == "" {
		region = defaultRegion
	}
	tr, err := minio.DefaultTransport(secure)
	if err != nil {
		return nil, fmt.Errorf("objstore: open %s: %w", loc, err)
	}
	tr.DialContext = (&net.Dialer{Timeout: min(timeout, 10*time.Second), KeepAlive: 15 * time.Second}).DialContext
	tr.ResponseHeaderTimeout = timeout
	tr.TLSHandshakeTimeout = min(timeout, 10*time.Second)
	creds := credentials.NewStatic("", "", "", credentials.SignatureAnonymous)
	if cfg.AccessKey != "" || cfg.SecretKey != "" || cfg.SessionToken != "" {
		creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken)
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	core, err := minio.NewCore(host, &minio.Options{
		Creds:        creds,
		Secure:       secure,
		Transport:    tr,
		Region:       region,
		BucketLookup: lookup,
		MaxRetries:   s3MaxRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("objstore: open %s: endpoint %q: %w", loc, cfg.Endpoint, err)
	}
	var secrets []string
	for _, s := range []string{cfg.SecretKey, cfg.AccessKey, cfg.SessionToken} {
		if len(s) >= 4 {
			secrets = append(secrets, s)
		}
	}
	return &s3Bucket{core: core, bucket: bucket, prefix: prefix, timeout: timeout, secrets: secrets}, nil
}

// parseEndpoint turns "http://host:port", "https://host" or "host[:port]"
// into minio's host and TLS flag; empty means AWS.
func parseEndpoint(ep string) (host string, secure bool, err error) {
	ep = strings.TrimSpace(ep)
	if ep == "" {
		return "s3.amazonaws.com", true, nil
	}
	if !strings.Contains(ep, "://") {
		ep = "https://" + ep
	}
	u, err := url.Parse(ep)
	if err != nil {
		return "", false, fmt.Errorf("endpoint %q: %w", ep, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http":
	case "https":
		secure = true
	default:
		return "", false, fmt.Errorf("endpoint %q: scheme %q (expected http:// or https://)", ep, u.Scheme)
	}
	if u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return "", false, fmt.Errorf(`endpoint %q: expected "http[s]://host[:port]" without a path, query or user`, ep)
	}
	return u.Host, secure, nil
}

// String implements Bucket.
func (b *s3Bucket) String() string {
	if b.prefix == "" {
		return "s3://" + b.bucket
	}
	return "s3://" + b.bucket + "/" + b.prefix
}

func (b *s3Bucket) object(key string) string {
	if b.prefix == "" {
		return key
	}
	return b.prefix + "/" + key
}

// fail wraps err for op on key (the key may be "" or a list prefix),
// naming the object, saying what an S3 error code means, and scrubbing
// anything that looks like a credential.
func (b *s3Bucket) fail(op, key string, err error, wctx context.Context) error {
	loc := join(b.String(), key)
	if wctx != nil {
		if cause := context.Cause(wctx); cause != nil && errors.Is(cause, errStalled) {
			err = cause
		}
	}
	resp := minio.ToErrorResponse(err)
	var msg string
	switch resp.Code {
	case "NoSuchKey":
		return &notExistError{op, loc}
	case "NoSuchBucket":
		msg = fmt.Sprintf("bucket %q does not exist", b.bucket)
	case "AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidToken", "ExpiredToken":
		msg = fmt.Sprintf("access denied (%s; check s3.access-key and s3.secret-key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)", resp.Code)
	}
	text := err.Error()
	if msg != "" {
		if resp.Message != "" {
			text = msg + ": " + resp.Message
		} else {
			text = msg
		}
	}
	for _, s := range b.secrets {
		text = strings.ReplaceAll(text, s, redacted)
	}
	return &s3Error{msg: "objstore: " + op + " " + loc + ": " + text, err: err}
}

// s3Error keeps the cause for errors.Is (context errors, the minio
// response) while its text is scrubbed.
type s3Error struct {
	msg string
	err error
}

func (e *s3Error) Error() string { return e.msg }
func (e *s3Error) Unwrap() error { return e.err }

// errStalled is the cause when a request makes no progress within the
// timeout; it wraps context.DeadlineExceeded.
var errStalled = fmt.Errorf("no response or progress within the request timeout: %w", context.DeadlineExceeded)

// watchdog is a context cancelled when kick has not been called for d:
// a request's deadline that progress (bytes read or written, objects
// listed) pushes back, so a big transfer may take long but a stalled one
// fails within d.
type watchdog struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	mu     sync.Mutex
	timer  *time.Timer
	d      time.Duration
}

func newWatchdog(ctx context.Context, d time.Duration) *watchdog {
	w := &watchdog{d: d}
	w.ctx, w.cancel = context.WithCancelCause(ctx)
	w.timer = time.AfterFunc(d, func() { w.cancel(fmt.Errorf("%w (%s)", errStalled, d)) })
	return w
}

func (w *watchdog) kick() {
	w.mu.Lock()
	w.timer.Reset(w.d)
	w.mu.Unlock()
}

func (w *watchdog) stop() {
	w.mu.Lock()
	w.timer.Stop()
	w.mu.Unlock()
	w.cancel(context.Canceled)
}

// putBody is a Put's body: it yields exactly size bytes, fails (instead of
// ending early) when r is shorter, so a short input fails the PUT rather
// than storing a short object, and kicks the watchdog on progress. It is
// seekable when r is, so minio can rewind and retry it.
type putBody struct {
	r         io.Reader
	w         *watchdog
	size      int64
	base      int64 // r's offset at the start, when seekable
	remaining int64
	short     error // set once the input ended early: no retry can help
}

func (p *putBody) Read(buf []byte) (int, error) {
	if p.remaining <= 0 {
		return 0, io.EOF
	}
	if int64(len(buf)) > p.remaining {
		buf = buf[:p.remaining]
	}
	n, err := p.r.Read(buf)
	p.remaining -= int64(n)
	if n > 0 {
		p.w.kick()
	}
	if err == io.EOF {
		if p.remaining > 0 {
			p.short = fmt.Errorf("short input: %d of %d bytes", p.size-p.remaining, p.size)
			return n, p.short
		}
		err = nil
	}
	return n, err
}

// seekablePutBody adds Seek when the input has it.
type seekablePutBody struct{ *putBody }

func (p seekablePutBody) Seek(off int64, whence int) (int64, error) {
	if p.short != nil {
		return 0, p.short
	}
	s := p.r.(io.Seeker)
	switch whence {
	case io.SeekStart:
		off += p.base
	case io.SeekEnd:
		off, whence = p.base+p.size+off, io.SeekStart
	}
	pos, err := s.Seek(off, whence)
	if err != nil {
		return 0, err
	}
	p.remaining = p.size - (pos - p.base)
	return pos - p.base, nil
}

// Put implements Bucket.
func (b *s3Bucket) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("objstore: put %s: %w", b.String(), err)
	}
	if size < 0 {
		return fmt.Errorf("objstore: put %s: negative size %d", join(b.String(), key), size)
	}
	if err := ctx.Err(); err != nil {
		return b.fail("put", key, err, nil)
	}
	w := newWatchdog(ctx, b.timeout)
	defer w.stop()
	pb := &putBody{r: r, w: w, size: size, remaining: size}
	var body io.Reader = pb
	if s, ok := r.(io.Seeker); ok {
		if base, err := s.Seek(0, io.SeekCurrent); err == nil {
			pb.base = base
			body = seekablePutBody{pb}
		}
	}
	_, err := b.core.Client.PutObject(w.ctx, b.bucket, b.object(key), body, size, minio.PutObjectOptions{
		PartSize:    s3PartSize,
		ContentType: "application/octet-stream",
	})
	if err != nil {
		return b.fail("put", key, err, w.ctx)
	}
	return nil
}

// Get implements Bucket: one GET whose body is read under the watchdog.
func (b *s3Bucket) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("objstore: get %s: %w", b.String(), err)
	}
	if err := ctx.Err(); err != nil {
		return nil, b.fail("get", key, err, nil)
	}
	w := newWatchdog(ctx, b.timeout)
	rc, _, _, err := b.core.GetObject(w.ctx, b.bucket, b.object(key), minio.GetObjectOptions{})
	if err != nil {
		w.stop()
		return nil, b.fail("get", key, err, w.ctx)
	}
	w.kick()
	return &s3Reader{rc: rc, w: w, b: b, key: key}, nil
}

type s3Reader struct {
	rc  io.ReadCloser
	w   *watchdog
	b   *s3Bucket
	key string
}

func (r *s3Reader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if n > 0 {
		r.w.kick()
	}
	if err != nil && err != io.EOF {
		err = r.b.fail("get", r.key, err, r.w.ctx)
	}
	return n, err
}

func (r *s3Reader) Close() error {
	err := r.rc.Close()
	r.w.stop()
	return err
}

// Stat implements Bucket.
func (b *s3Bucket) Stat(ctx context.Context, key string) (Info, error) {
	if err := checkKey(key); err != nil {
		return Info{}, fmt.Errorf("objstore: stat %s: %w", b.String(), err)
	}
	if err := ctx.Err(); err != nil {
		return Info{}, b.fail("stat", key, err, nil)
	}
	w := newWatchdog(ctx, b.timeout)
	defer w.stop()
	oi, err := b.core.StatObject(w.ctx, b.bucket, b.object(key), minio.StatObjectOptions{})
	if err != nil {
		return Info{}, b.fail("stat", key, err, w.ctx)
	}
	return Info{Key: key, Size: oi.Size, ModTime: oi.LastModified}, nil
}

// List implements Bucket.
func (b *s3Bucket) List(ctx context.Context, prefix string) ([]Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, b.fail("list", prefix, err, nil)
	}
	root := ""
	if b.prefix != "" {
		root = b.prefix + "/"
	}
	w := newWatchdog(ctx, b.timeout)
	defer w.stop()
	var out []Info
	for oi := range b.core.Client.ListObjects(w.ctx, b.bucket, minio.ListObjectsOptions{Prefix: root + prefix, Recursive: true}) {
		if oi.Err != nil {
			return nil, b.fail("list", prefix, oi.Err, w.ctx)
		}
		w.kick()
		key := strings.TrimPrefix(oi.Key, root)
		if strings.HasSuffix(key, "/") {
			continue // a "directory marker" some tools write: not an object
		}
		out = append(out, Info{Key: key, Size: oi.Size, ModTime: oi.LastModified})
	}
	// The channel also closes when the context ends, without an error.
	if err := w.ctx.Err(); err != nil {
		return nil, b.fail("list", prefix, err, w.ctx)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete implements Bucket.
func (b *s3Bucket) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("objstore: delete %s: %w", b.String(), err)
	}
	if err := ctx.Err(); err != nil {
		return b.fail("delete", key, err, nil)
	}
	w := newWatchdog(ctx, b.timeout)
	defer w.stop()
	if err := b.core.RemoveObject(w.ctx, b.bucket, b.object(key), minio.RemoveObjectOptions{}); err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return nil
		}
		return b.fail("delete", key, err, w.ctx)
	}
	return nil
}
