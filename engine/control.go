package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/checkpoint/objstore"
	"github.com/streamsql/streamsql/exec"
)

// A running job serves requests from other processes (streamsql
// savepoint, streamsql checkpoints list) through files in its checkpoint
// directory, since the store itself is locked while the job runs:
//
//	<job dir>/CHECKPOINTS.json          written after every checkpoint: List()
//	<job dir>/requests/<id>.savepoint   a request: the target directory
//	<job dir>/requests/<id>.done        the answer: SavepointAnswer as JSON
const (
	statusFile  = "CHECKPOINTS.json"
	requestsDir = "requests"
)

// Status is what CHECKPOINTS.json holds.
type Status struct {
	Job         string                      `json:"job"`
	Running     bool                        `json:"running"`
	Updated     time.Time                   `json:"updated"`
	Checkpoints []checkpoint.CheckpointInfo `json:"checkpoints"`
	Failures    checkpoint.FailureStats     `json:"failures"`
	// Completed is the newest checkpoint the job completed, as recorded
	// outside the store: newer than every listed one when the store lost
	// some (a damaged log), which the job refuses to restore unless
	// --allow-rollback.
	Completed uint64     `json:"completed,omitempty"`
	Stats     exec.Stats `json:"stats"`
}

// SavepointAnswer is the answer to a savepoint request.
type SavepointAnswer struct {
	Path         string `json:"path,omitempty"`
	CheckpointID uint64 `json:"checkpoint_id,omitempty"`
	Error        string `json:"error,omitempty"`
}

// writeStatus records the store's checkpoints for readers in other
// processes, atomically (write then rename).
func writeStatus(store *checkpoint.Store, job string, running bool, stats exec.Stats) error {
	fails, err := store.Failures()
	if err != nil {
		return err
	}
	list, err := store.List()
	if err != nil {
		// The store failed (a full disk) and is not reopened yet: keep the
		// checkpoints the status last named, with the new failures.
		b, rerr := os.ReadFile(filepath.Join(store.Dir(), statusFile))
		var old Status
		if rerr != nil || json.Unmarshal(b, &old) != nil {
			return err
		}
		list = old.Checkpoints
	}
	b, err := json.MarshalIndent(Status{Job: job, Running: running, Updated: time.Now().UTC(), Checkpoints: list, Failures: fails, Completed: store.Completed(), Stats: stats}, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(store.Dir(), statusFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(store.Dir(), statusFile))
}

// serveRequests polls the job's request directory until ctx ends,
// answering savepoint requests through job.
func serveRequests(ctx context.Context, dir string, job *exec.Job, poll time.Duration) {
	reqDir := filepath.Join(dir, requestsDir)
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		entries, err := os.ReadDir(reqDir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			id, ok := strings.CutSuffix(e.Name(), ".savepoint")
			if !ok {
				continue
			}
			req := filepath.Join(reqDir, e.Name())
			target, err := os.ReadFile(req)
			_ = os.Remove(req)
			ans := SavepointAnswer{}
			if err != nil {
				ans.Error = err.Error()
			} else {
				select {
				case res := <-job.TriggerSavepoint(strings.TrimSpace(string(target))):
					if res.Err != nil {
						ans.Error = res.Err.Error()
					} else {
						ans.Path, ans.CheckpointID = res.Info.Path, res.Info.CheckpointID
					}
				case <-ctx.Done():
					ans.Error = "the job stopped before the savepoint"
				}
			}
			b, _ := json.Marshal(ans)
			_ = os.WriteFile(filepath.Join(reqDir, id+".done.tmp"), b, 0o644)
			_ = os.Rename(filepath.Join(reqDir, id+".done.tmp"), filepath.Join(reqDir, id+".done"))
		}
	}
}

// SavepointDir returns where a savepoint of job named name goes by
// default: DIR/savepoints/<job>-<name or UTC time>, path-escaped as job
// directories are, so that it stays inside DIR/savepoints whatever the
// names hold ("../x", "a/b"). Without a name, the time has seconds only;
// when that directory exists already (two savepoints in one second), a
// counter follows it ("-2", "-3", …), so an unnamed savepoint never
// collides with an earlier one. A given name is used as it is.
func SavepointDir(stateDir, job, name string) string {
	return savepointDirIn(filepath.Join(stateDir, "savepoints"), job, name)
}

// TakeSavepoint takes a savepoint of job in stateDir into target, a
// directory or an "s3://bucket/prefix" location (reached with cfg when the
// job is not running, with the job's own settings when it is): through the
// running job when it runs (waiting up to timeout), or from the job's last
// completed checkpoint when it does not.
func TakeSavepoint(ctx context.Context, stateDir, job, target string, cfg objstore.Config, timeout time.Duration) (SavepointAnswer, error) {
	dir, err := checkpoint.JobDir(stateDir, job)
	if err != nil {
		return SavepointAnswer{}, err
	}
	if _, err := os.Stat(dir); err != nil {
		return SavepointAnswer{}, fmt.Errorf("no job %q in state dir %s (known: %s)", job, stateDir, strings.Join(Jobs(stateDir), ", "))
	}
	if objstore.IsRemote(target) {
		if err := checkLocation(target); err != nil {
			return SavepointAnswer{}, fmt.Errorf("savepoint target: %v", err)
		}
	} else if abs, err := filepath.Abs(strings.TrimPrefix(target, "file://")); err == nil {
		target = abs
	}
	store, err := checkpoint.OpenContext(ctx, stateDir, checkpoint.Options{JobName: job, ObjectStore: cfg})
	if err == nil {
		defer store.Close()
		r, err := store.Restore()
		if err != nil {
			return SavepointAnswer{}, err
		}
		if r == nil {
			return SavepointAnswer{}, fmt.Errorf("job %q has no completed checkpoint", job)
		}
		info, err := store.Savepoint(ctx, target)
		if err != nil {
			return SavepointAnswer{}, err
		}
		return SavepointAnswer{Path: info.Path, CheckpointID: info.CheckpointID}, nil
	}
	if !errors.Is(err, checkpoint.ErrLocked) {
		return SavepointAnswer{}, err
	}
	// The job is running: ask it.
	reqDir := filepath.Join(dir, requestsDir)
	if err := os.MkdirAll(reqDir, 0o755); err != nil {
		return SavepointAnswer{}, err
	}
	id := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())
	tmp := filepath.Join(reqDir, id+".tmp")
	if err := os.WriteFile(tmp, []byte(target), 0o644); err != nil {
		return SavepointAnswer{}, err
	}
	if err := os.Rename(tmp, filepath.Join(reqDir, id+".savepoint")); err != nil {
		return SavepointAnswer{}, err
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(filepath.Join(reqDir, id+".done"))
		if err == nil {
			_ = os.Remove(filepath.Join(reqDir, id+".done"))
			var ans SavepointAnswer
			if err := json.Unmarshal(b, &ans); err != nil {
				return ans, err
			}
			if ans.Error != "" {
				return ans, errors.New(ans.Error)
			}
			return ans, nil
		}
		select {
		case <-ctx.Done():
			return SavepointAnswer{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	_ = os.Remove(filepath.Join(reqDir, id+".savepoint"))
	return SavepointAnswer{}, fmt.Errorf("job %q did not answer within %v (is it stuck?)", job, timeout)
}

// Jobs lists the jobs that have checkpoint directories in stateDir.
func Jobs(stateDir string) []string {
	entries, _ := os.ReadDir(stateDir)
	var out []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "savepoints" && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// ReadStatus returns the checkpoints of job in stateDir: from the store
// when the job is not running, else from the status file the running job
// keeps.
func ReadStatus(stateDir, job string) (Status, error) {
	dir, err := checkpoint.JobDir(stateDir, job)
	if err != nil {
		return Status{}, err
	}
	if _, err := os.Stat(dir); err != nil {
		return Status{}, fmt.Errorf("no job %q in state dir %s (known: %s)", job, stateDir, strings.Join(Jobs(stateDir), ", "))
	}
	store, err := checkpoint.Open(stateDir, checkpoint.Options{JobName: job, ReadOnly: true})
	if err == nil {
		defer store.Close()
		st := Status{Job: job, Completed: store.Completed()}
		if st.Checkpoints, err = store.List(); err != nil {
			return st, err
		}
		st.Failures, err = store.Failures()
		if b, rerr := os.ReadFile(filepath.Join(dir, statusFile)); rerr == nil {
			var old Status
			if json.Unmarshal(b, &old) == nil {
				st.Stats = old.Stats
			}
		}
		return st, err
	}
	if !errors.Is(err, checkpoint.ErrLocked) {
		return Status{}, err
	}
	b, err := os.ReadFile(filepath.Join(dir, statusFile))
	if err != nil {
		return Status{Job: job, Running: true}, nil
	}
	var st Status
	err = json.Unmarshal(b, &st)
	st.Running = true
	return st, err
}
