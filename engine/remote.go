package engine

import (
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/streamsql/streamsql/checkpoint/objstore"
)

// defaultUploadTimeout is execution.checkpointing.timeout's default.
const defaultUploadTimeout = 10 * time.Minute

// setting returns the value of key in settings (a query's snapshot), else
// the engine's default for it.
func (e *Engine) setting(settings map[string]string, key string) string {
	if v, ok := settings[key]; ok {
		return v
	}
	k, _ := settingKey(key)
	return e.defaultSetting(k)
}

// ObjectStoreConfig returns how to reach S3 with settings (a session's or
// a query's, SET's keys): the s3.* keys, else the engine's Options, and
// the standard AWS environment for what both leave empty.
func (e *Engine) ObjectStoreConfig(settings map[string]string) objstore.Config {
	c := objstore.Config{
		Endpoint:  e.setting(settings, "s3.endpoint"),
		Region:    e.setting(settings, "s3.region"),
		AccessKey: e.setting(settings, "s3.access-key"),
		SecretKey: e.setting(settings, "s3.secret-key"),
		Timeout:   e.opts.ObjectStore.Timeout,
	}
	c.PathStyle, _ = strconv.ParseBool(strings.TrimSpace(e.setting(settings, "s3.path.style.access"))) // checked by SET
	if c.AccessKey == e.opts.ObjectStore.AccessKey && c.SecretKey == e.opts.ObjectStore.SecretKey {
		c.SessionToken = e.opts.ObjectStore.SessionToken
	}
	getenv := e.opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	return c.FromEnv(getenv)
}

// checkpointDir returns the query's remote checkpoint location ("" for
// local only).
func (q *ContinuousQuery) checkpointDir() string {
	return q.e.setting(q.settings, checkpointDirKey)
}

// uploadTimeout returns the query's execution.checkpointing.timeout.
func (q *ContinuousQuery) uploadTimeout() time.Duration {
	d, err := parseDuration(q.e.setting(q.settings, checkpointTimeoutKey))
	if err != nil || d <= 0 {
		return defaultUploadTimeout // checked by SET; the Options' default
	}
	return d
}

// SavepointTarget returns where a savepoint of the query named name
// (default: the time) goes when none is given: inside the query's
// execution.checkpointing.savepoint-dir when set, else
// STATE-DIR/savepoints (see SavepointDir).
func (q *ContinuousQuery) SavepointTarget(name string) string {
	return SavepointIn(q.e.setting(q.settings, savepointDirKey), q.e.opts.StateDir, q.name, name)
}

// SavepointTarget is the Job's ContinuousQuery.SavepointTarget.
func (j *Job) SavepointTarget(name string) string { return j.q.SavepointTarget(name) }

// SavepointRoot returns the job's execution.checkpointing.savepoint-dir:
// where its savepoints go by default ("" for STATE-DIR/savepoints).
func (j *Job) SavepointRoot() string { return j.q.e.setting(j.q.settings, savepointDirKey) }

// SavepointIn returns where a savepoint of job named name goes by default:
// inside root (a savepoint dir: "s3://bucket/prefix" or a directory) as
// <job>-<name or UTC time>, path-escaped; an empty root means
// STATE-DIR/savepoints (SavepointDir). In an object store the unnamed
// savepoint's time has milliseconds, as existence is not probed there.
func SavepointIn(root, stateDir, job, name string) string {
	switch {
	case root == "":
		return SavepointDir(stateDir, job, name)
	case objstore.IsRemote(root):
		if name == "" {
			name = strings.ReplaceAll(time.Now().UTC().Format("20060102-150405.000"), ".", "-")
		}
		base := url.PathEscape(job + "-" + name)
		if base == "." || base == ".." {
			base = url.PathEscape("_" + base)
		}
		return strings.TrimRight(root, "/") + "/" + base
	}
	root = strings.TrimPrefix(root, "file://")
	return savepointDirIn(root, job, name)
}

// savepointDirIn is SavepointDir's naming inside the directory root.
func savepointDirIn(root, job, name string) string {
	dir := func(name string) string {
		base := url.PathEscape(job + "-" + name)
		if base == "." || base == ".." {
			base = url.PathEscape("_" + base)
		}
		return filepath.Join(root, base)
	}
	if name != "" {
		return dir(name)
	}
	stamp := time.Now().UTC().Format("20060102-150405")
	d := dir(stamp)
	for n := 2; ; n++ {
		if _, err := os.Lstat(d); err != nil {
			return d // free (or unreadable: creating it will say why)
		}
		d = dir(stamp + "-" + strconv.Itoa(n))
	}
}
