package server

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/parser"
)

// The job log lives in the state directory, beside the jobs' checkpoint
// directories; the leading dot keeps it out of engine.Jobs.
const (
	journalDir     = ".server"
	journalFile    = "jobs.json"
	journalVersion = 1
)

// Entry kinds of the job log.
const (
	// kindSession is a statement that changed the session (CREATE, DROP,
	// SET, RESET): replayed in order.
	kindSession = "session"
	// kindJob is a submitted INSERT: resubmitted while its status is
	// RUNNING.
	kindJob = "job"
)

// entry is one statement of the job log.
type entry struct {
	Kind string `json:"kind"`
	SQL  string `json:"sql"`
	// Job and Status are set for kindJob.
	Job       string           `json:"job,omitempty"`
	Status    engine.JobStatus `json:"status,omitempty"`
	Error     string           `json:"error,omitempty"`
	Submitted time.Time        `json:"submitted,omitzero"`
	Ended     time.Time        `json:"ended,omitzero"`
	// Session is the session that submitted the job ("default" for
	// POST /v1/statements), Settings its settings then, which the job is
	// planned with again when it resumes. Catalog, for a job of a
	// session other than the default one, are the statements that build
	// the catalog it was planned in (the default session's are the
	// kindSession entries before it).
	Session  string            `json:"session,omitempty"`
	Settings map[string]string `json:"settings,omitempty"`
	Catalog  []string          `json:"catalog,omitempty"`
	// Final is the job's stats, last checkpoint and savepoint when it
	// ended, shown by later server runs.
	Final *finalView `json:"final,omitempty"`
}

type journalData struct {
	Version int     `json:"version"`
	Entries []entry `json:"entries"`
}

// journal is the job log, in memory and on disk. Its methods are called
// with Server.mu held.
type journal struct {
	path string
	// mu guards entries for readers outside Server.mu (GET /v1/jobs);
	// writers hold both.
	mu      sync.Mutex
	entries []entry
	// closed is set by Close: jobs cancelled from then on are not
	// recorded as ended, so they resume.
	closed bool
}

func openJournal(stateDir string) (*journal, error) {
	j := &journal{path: filepath.Join(stateDir, journalDir, journalFile)}
	b, err := os.ReadFile(j.path)
	if os.IsNotExist(err) {
		return j, nil
	}
	if err != nil {
		return nil, fmt.Errorf("server: reading the job log: %w", err)
	}
	var d journalData
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("server: job log %s: %v", j.path, err)
	}
	if d.Version != journalVersion {
		return nil, fmt.Errorf("server: job log %s: unknown version %d", j.path, d.Version)
	}
	j.entries = d.Entries
	return j, nil
}

// save writes the log atomically: to a temporary file, synced, then
// renamed over the old one.
func (j *journal) save() error {
	if err := os.MkdirAll(filepath.Dir(j.path), 0o755); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	b, err := json.MarshalIndent(journalData{Version: journalVersion, Entries: j.entries}, "", "  ")
	if err != nil {
		return err
	}
	tmp := j.path + ".tmp"
	// Owner only: a job's settings may hold credentials (s3.secret-key),
	// which it needs again when it resumes.
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("server: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("server: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if err := os.Rename(tmp, j.path); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	if d, err := os.Open(filepath.Dir(j.path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

func (j *journal) append(e entry) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries = append(j.entries, e)
	if err := j.save(); err != nil {
		j.entries = j.entries[:len(j.entries)-1]
		return err
	}
	return nil
}

// ended records that job ended with status.
func (j *journal) ended(job *engine.Job) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i := len(j.entries) - 1; i >= 0; i-- {
		e := &j.entries[i]
		if e.Kind != kindJob || e.Job != job.ID() || e.Status != engine.Running {
			continue
		}
		e.Status, e.Ended, e.Final = job.Status(), job.Ended().UTC(), finalOf(job)
		if err := job.Err(); err != nil {
			e.Error = err.Error()
		}
		return j.save()
	}
	return nil
}

// history returns the jobs of the log that have ended, the latest entry
// per id, oldest first: the jobs of earlier server runs.
func (j *journal) history() []entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []entry
	seen := map[string]bool{}
	for i := len(j.entries) - 1; i >= 0; i-- {
		e := j.entries[i]
		if e.Kind != kindJob || seen[e.Job] {
			continue
		}
		seen[e.Job] = true
		if e.Status != engine.Running {
			out = append(out, e)
		}
	}
	slices.Reverse(out)
	return out
}

// replay runs the job log's statements again on the default session and
// resubmits the jobs that were running, each planned in the catalog and
// with the settings it was submitted with.
func (s *Server) replay() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx := context.Background()
	for _, e := range s.journal.entries {
		if e.Kind == kindJob && e.Status != engine.Running {
			s.eng.ReserveJobName(e.Job)
			continue
		}
		stmts, err := parser.Parse(journalFile, e.SQL)
		if err != nil || len(stmts) != 1 {
			s.log.Warn("server: skipping unreadable statement of the job log", "sql", e.SQL, "err", err)
			continue
		}
		switch e.Kind {
		case kindSession:
			// Logs written before sessions also hold SET and RESET,
			// which then applied to the jobs after them.
			if _, err := s.shared.Execute(ctx, stmts[0]); err != nil {
				s.log.Warn("server: statement of the job log failed on replay", "sql", e.SQL, "err", err)
			} else if changesCatalog(stmts[0]) {
				s.sharedDDL = append(s.sharedDDL, e.SQL)
			}
		case kindJob:
			es := s.shared
			if e.Catalog != nil {
				es = s.eng.NewSession()
				for _, sql := range e.Catalog {
					if err := execSQL(es, sql); err != nil {
						s.log.Warn("server: statement of a job's catalog failed on replay", "job", e.Job, "sql", sql, "err", err)
					}
				}
			}
			q, err := es.Plan(ctx, stmts[0], engine.QueryOptions{Name: e.Job, Settings: e.Settings})
			if err != nil {
				s.log.Error("server: cannot resubmit job", "job", e.Job, "err", err)
				continue
			}
			job, err := s.eng.Submit(q, nil)
			if err != nil {
				s.log.Error("server: cannot resubmit job", "job", e.Job, "err", err)
				continue
			}
			s.log.Info("server: job resubmitted", "job", e.Job)
			s.watch(job)
		}
	}
	if _, err := s.shared.Execute(ctx, &parser.ResetStmt{}); err != nil {
		return fmt.Errorf("server: resetting the default session: %w", err)
	}
	return nil
}

// watch records the end of job in the log, unless the server cancelled it
// on Close. Called with s.mu held.
func (s *Server) watch(job *engine.Job) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		<-job.Done()
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.journal.closed && job.Status() == engine.Canceled {
			return
		}
		if err := s.journal.ended(job); err != nil {
			s.log.Error("server: cannot record the end of a job", "job", job.ID(), "err", err)
		}
	}()
}
