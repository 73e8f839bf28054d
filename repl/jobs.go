package repl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/parser"
)

// submitInsert plans an INSERT typed at the prompt (text) and starts it as
// a background job. Its id is SET 'pipeline.name', else derived from the
// statement (insert-into-<sink>), made unique against this session's jobs
// and the jobs and state the state directory already holds, so that a new
// job never restores an old one's checkpoints by accident.
func (s *shell) submitInsert(ctx context.Context, st *parser.InsertStmt, text string) error {
	opts := engine.QueryOptions{}
	if _, named := s.eng.Setting("pipeline.name"); !named {
		opts.Name = s.uniqueJobName(insertJobName(st))
	}
	settings := s.eng.Settings()
	q, err := s.eng.Plan(ctx, st, opts)
	if err != nil {
		return err
	}
	return s.start(q, jobRecord{ID: q.Name(), SQL: text, Settings: settings})
}

// submitStatementSet is END after BEGIN STATEMENT SET at the prompt: the
// INSERTs collected since start as one background job, named as
// submitSet names it.
func (s *shell) submitStatementSet(ctx context.Context, end *parser.EndStatementSetStmt) error {
	set, err := s.eng.EndStatementSet(end.Pos)
	if err != nil {
		return err
	}
	return s.submitSet(ctx, set)
}

// submitSet starts a statement set typed at the prompt as one background
// job. Its id is SET 'pipeline.name', else statement-set-<sinks> (see
// statementSetJobName), made unique as an INSERT's is.
func (s *shell) submitSet(ctx context.Context, set *parser.StatementSetStmt) error {
	opts := engine.QueryOptions{}
	if _, named := s.eng.Setting("pipeline.name"); !named {
		opts.Name = s.uniqueJobName(statementSetJobName(set))
	}
	settings := s.eng.Settings()
	q, err := s.eng.Plan(ctx, set, opts)
	if err != nil {
		return err
	}
	return s.start(q, jobRecord{ID: q.Name(), SQL: set.String(), Settings: settings})
}

// discardedSet says that a statement set was dropped with n INSERTs.
func discardedSet(n int) string {
	return fmt.Sprintf("statement set discarded: %d INSERT statement(s) not submitted; BEGIN STATEMENT SET; starts a new one", n)
}

// start submits q and records it for SHOW JOBS and RESUME JOB.
func (s *shell) start(q *engine.ContinuousQuery, rec jobRecord) error {
	j, err := s.eng.Submit(q, nil)
	if err != nil {
		return err
	}
	if s.st != nil {
		rec.Status = string(engine.Running)
		if err := s.st.saveJob(rec); err != nil {
			fmt.Fprintf(s.errw, "warning: job %s cannot be resumed in a later session: %v\n", j.ID(), err)
		}
	}
	go s.watch(j)
	fmt.Fprintf(s.out, "job %s submitted: it runs in the background and checkpoints into %s\n"+
		"  SHOW JOBS; lists it, STOP JOB '%s' WITH SAVEPOINT; stops it\n", j.ID(), s.eng.StateDir(), j.ID())
	return nil
}

// uniqueJobName returns base, or base-2, base-3, …: the first name no job
// of this session, no job record and no checkpoint directory holds.
func (s *shell) uniqueJobName(base string) string {
	taken := func(name string) bool {
		if _, ok := s.eng.Job(name); ok {
			return true
		}
		if s.st != nil {
			if _, ok, _ := s.st.job(name); ok {
				return true
			}
		}
		dir, err := checkpoint.JobDir(s.eng.StateDir(), name)
		if err != nil {
			return true
		}
		_, err = os.Stat(dir)
		return err == nil
	}
	name := base
	for n := 2; taken(name); n++ {
		name = fmt.Sprintf("%s-%d", base, n)
	}
	return name
}

// stopped records that j was stopped (with its savepoint, if any).
func (s *shell) stopped(j *engine.Job) {
	if s.st == nil {
		return
	}
	err := s.st.updateJob(j.ID(), func(r *jobRecord) {
		r.Status = string(engine.Stopped)
		if sp := j.LastSavepoint(); sp != "" {
			r.Savepoint = sp
		}
	})
	if err != nil {
		fmt.Fprintf(s.errw, "warning: job %s: %v\n", j.ID(), err)
	}
}

// resume is RESUME JOB 'id': it plans the job's statement again, with the
// settings it was first planned with, and starts it from its last
// savepoint (or, without one, from its last checkpoint).
func (s *shell) resume(id string) error {
	if id == "" {
		return errors.New("RESUME JOB needs a job id: RESUME JOB 'id' (SHOW JOBS lists them)")
	}
	if s.st == nil {
		return errors.New("RESUME JOB: only the interactive shell keeps jobs to resume")
	}
	if j, ok := s.eng.Job(id); ok && j.Status() == engine.Running {
		return fmt.Errorf("job %q is running", id)
	}
	rec, ok, err := s.st.job(id)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("unknown job %q (SHOW JOBS lists the jobs that can be resumed)", id)
	}
	stmts, err := parser.Parse("", rec.SQL)
	if err != nil || len(stmts) != 1 {
		return fmt.Errorf("job %q: its statement no longer parses: %v", id, err)
	}
	settings := map[string]string{}
	for k, v := range rec.Settings {
		settings[k] = v
	}
	delete(settings, "pipeline.name") // the id names it
	delete(settings, "execution.savepoint.path")
	if rec.Savepoint != "" {
		settings["execution.savepoint.path"] = rec.Savepoint
	}
	// Planning checks the settings as SET does: one that the engine no
	// longer knows is dropped with a warning rather than blocking the job.
	for k, v := range settings {
		if err := engine.CheckSetting(k, v); err != nil {
			fmt.Fprintf(s.errw, "warning: job %s: setting dropped: %v\n", id, err)
			delete(settings, k)
		}
	}
	q, err := s.eng.Plan(context.Background(), stmts[0], engine.QueryOptions{Name: id, Settings: settings})
	if err != nil {
		return fmt.Errorf("job %q: %w", id, err)
	}
	if rec.Savepoint != "" {
		fmt.Fprintf(s.out, "resuming job %s from savepoint %s\n", id, rec.Savepoint)
	} else {
		fmt.Fprintf(s.out, "resuming job %s from its last checkpoint (it has no savepoint)\n", id)
	}
	return s.start(q, rec)
}

// addStoredJobs completes SHOW JOBS: the statement and savepoint of each
// job, and the jobs of earlier sessions that can be resumed.
func (s *shell) addStoredJobs(res *engine.Result) {
	recs, err := s.st.jobs()
	if err != nil {
		fmt.Fprintf(s.errw, "warning: %v\n", err)
	}
	byID := map[string]jobRecord{}
	for _, r := range recs {
		byID[r.ID] = r
	}
	// The engine's SHOW JOBS ends with the savepoint and statement
	// columns; the job records know them across sessions.
	seen := map[string]bool{}
	for _, row := range res.Rows {
		id := row[0]
		seen[id] = true
		sp, sql := row[len(row)-2], "-"
		if r, ok := byID[id]; ok {
			sql = r.SQL
			if r.Savepoint != "" {
				sp = r.Savepoint
			}
		}
		if j, ok := s.eng.Job(id); ok {
			if sql == "-" {
				sql = j.SQL()
			}
			if j.LastSavepoint() != "" {
				sp = j.LastSavepoint()
			}
		}
		row[len(row)-2], row[len(row)-1] = sp, oneLine(sql)
	}
	for _, r := range recs {
		if seen[r.ID] {
			continue
		}
		status := r.Status
		if status == string(engine.Running) { // its shell ended without stopping it
			status = "STOPPED (shell ended)"
		}
		row := make([]string, len(res.Header))
		for i := range row {
			row[i] = "-"
		}
		row[0], row[1] = r.ID, status
		if r.Savepoint != "" {
			row[len(row)-2] = r.Savepoint
		}
		row[len(row)-1] = oneLine(r.SQL)
		res.Rows = append(res.Rows, row)
	}
}

// storedJobIDs lists the jobs kept in the state directory, for completion.
func (s *shell) storedJobIDs() []string {
	if s.st == nil {
		return nil
	}
	recs, _ := s.st.jobs()
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	return ids
}

// oneLine joins a statement's lines for a table cell, cut to
// maxStatementWidth characters with an ellipsis.
func oneLine(sql string) string {
	s := strings.Join(strings.Fields(sql), " ")
	if r := []rune(s); len(r) > maxStatementWidth {
		s = string(r[:maxStatementWidth-1]) + "…"
	}
	return s
}

// maxStatementWidth keeps SHOW JOBS narrow enough for a terminal.
const maxStatementWidth = 60

// removeJobState deletes the checkpoint directory of a query that ended,
// for queries nothing resumes (an ad-hoc SELECT).
func (s *shell) removeJobState(name string) {
	dir, err := checkpoint.JobDir(s.eng.StateDir(), name)
	if err != nil {
		return
	}
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintf(s.errw, "warning: %v\n", err)
	}
}

// loadCatalog reads the catalog kept by earlier sessions; it is restored
// by restoreCatalog, after --init.
func (s *shell) loadCatalog() []catalogEntry {
	entries, err := s.st.loadCatalog()
	if err != nil {
		fmt.Fprintf(s.errw, "warning: catalog not fully restored: %v\n", err)
	}
	s.st.setCatalog(append([]catalogEntry(nil), entries...))
	return entries
}

// restoreCatalog runs the statements of the kept catalog, skipping tables
// and views that exist already (created by --init), and says what it
// restored. One that fails is reported and stays in the catalog file.
func (s *shell) restoreCatalog(ctx context.Context, entries []catalogEntry) {
	exists := map[string]bool{}
	for _, t := range s.eng.TableNames() {
		exists[strings.ToLower(t)] = true
	}
	tables, views := 0, 0
	for _, e := range entries {
		if exists[e.name] {
			continue
		}
		stmts, err := parser.Parse(s.st.catalogPath(), e.sql)
		if err == nil {
			_, err = s.eng.Execute(ctx, stmts[0])
		}
		if err != nil {
			fmt.Fprintf(s.errw, "warning: %s not restored from %s: %v\n", e.name, s.st.catalogPath(), err)
			continue
		}
		exists[e.name] = true
		if e.view {
			views++
		} else {
			tables++
		}
	}
	if tables+views == 0 {
		return
	}
	what := plural(tables, "table")
	if views > 0 {
		what += " and " + plural(views, "view")
	}
	fmt.Fprintf(s.out, "restored %s from %s\n", what, filepath.Clean(s.st.catalogPath()))
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
