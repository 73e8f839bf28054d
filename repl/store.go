package repl

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/parser"
)

// store keeps what an interactive shell needs to resume in a later
// session, under STATE-DIR/shell/:
//
//	catalog.sql      the CREATE TABLE and CREATE VIEW statements in force,
//	                 as typed, in order (DROP removes one); restored at start
//	jobs/<id>.json   each INSERT job: its statement, the session settings it
//	                 was planned with, and its last savepoint; RESUME JOB
//	                 restarts it, SHOW JOBS lists it once stopped
//
// TEMPORARY tables and views are the session's only, as in Flink, and are
// not kept. Safe for concurrent use.
type store struct {
	dir string

	mu      sync.Mutex
	catalog []catalogEntry
}

// catalogEntry is one statement of catalog.sql.
type catalogEntry struct {
	name string // lower case
	view bool
	sql  string // without the semicolon
}

// jobRecord is jobs/<id>.json.
type jobRecord struct {
	ID        string            `json:"id"`
	SQL       string            `json:"sql"`
	Settings  map[string]string `json:"settings,omitempty"`
	Status    string            `json:"status"`
	Savepoint string            `json:"savepoint,omitempty"`
}

func newStore(stateDir string) *store {
	return &store{dir: filepath.Join(stateDir, "shell")}
}

func (s *store) catalogPath() string { return filepath.Join(s.dir, "catalog.sql") }

// loadCatalog reads catalog.sql: its statements, in order.
func (s *store) loadCatalog() ([]catalogEntry, error) {
	b, err := os.ReadFile(s.catalogPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []catalogEntry
	for _, text := range parser.Split(string(b)) {
		stmts, err := parser.Parse(s.catalogPath(), text)
		if err != nil || len(stmts) != 1 {
			return out, fmt.Errorf("%s: %v", s.catalogPath(), err)
		}
		switch st := stmts[0].(type) {
		case *parser.CreateTableStmt:
			out = append(out, catalogEntry{name: strings.ToLower(st.Name.Name), sql: text})
		case *parser.CreateViewStmt:
			out = append(out, catalogEntry{name: strings.ToLower(st.Name.Name), view: true, sql: text})
		}
	}
	return out, nil
}

// setCatalog records the statements restored at start.
func (s *store) setCatalog(entries []catalogEntry) {
	s.mu.Lock()
	s.catalog = entries
	s.mu.Unlock()
}

// record notes a DDL statement that succeeded (text is it as typed) and
// rewrites catalog.sql.
func (s *store) record(st parser.Statement, text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	drop := func(name string, view bool) {
		for i, e := range s.catalog {
			if e.name == name && e.view == view {
				s.catalog = append(s.catalog[:i], s.catalog[i+1:]...)
				return
			}
		}
	}
	switch st := st.(type) {
	case *parser.CreateTableStmt:
		if st.Temporary {
			return nil
		}
		drop(strings.ToLower(st.Name.Name), false)
		s.catalog = append(s.catalog, catalogEntry{name: strings.ToLower(st.Name.Name), sql: text})
	case *parser.CreateViewStmt:
		if st.Temporary {
			return nil
		}
		drop(strings.ToLower(st.Name.Name), true)
		s.catalog = append(s.catalog, catalogEntry{name: strings.ToLower(st.Name.Name), view: true, sql: text})
	case *parser.DropStmt:
		drop(strings.ToLower(st.Name.Name), st.View)
	default:
		return nil
	}
	var b strings.Builder
	b.WriteString("-- The shell's catalog: restored when the shell starts with this state directory.\n")
	for _, e := range s.catalog {
		b.WriteString(e.sql)
		b.WriteString(";\n")
	}
	return writeFileAtomic(s.catalogPath(), []byte(b.String()))
}

// jobPath is the record file of job id (JobDir's escaping keeps any id
// inside the directory).
func (s *store) jobPath(id string) (string, error) {
	d, err := checkpoint.JobDir(filepath.Join(s.dir, "jobs"), id)
	if err != nil {
		return "", err
	}
	return d + ".json", nil
}

// saveJob writes a job's record.
func (s *store) saveJob(r jobRecord) error {
	p, err := s.jobPath(r.ID)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(p, append(b, '\n'))
}

// updateJob changes a job's record, if it has one.
func (s *store) updateJob(id string, fn func(*jobRecord)) error {
	r, ok, err := s.job(id)
	if err != nil || !ok {
		return err
	}
	fn(&r)
	return s.saveJob(r)
}

// deleteJob forgets a job.
func (s *store) deleteJob(id string) error {
	p, err := s.jobPath(id)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// job reads a job's record.
func (s *store) job(id string) (jobRecord, bool, error) {
	p, err := s.jobPath(id)
	if err != nil {
		return jobRecord{}, false, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return jobRecord{}, false, nil
	}
	if err != nil {
		return jobRecord{}, false, err
	}
	var r jobRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return jobRecord{}, false, fmt.Errorf("%s: %v", p, err)
	}
	return r, true, nil
}

// jobs reads every job record, by id.
func (s *store) jobs() ([]jobRecord, error) {
	files, err := filepath.Glob(filepath.Join(s.dir, "jobs", "*.json"))
	if err != nil {
		return nil, err
	}
	var out []jobRecord
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return out, err
		}
		var r jobRecord
		if err := json.Unmarshal(b, &r); err != nil {
			return out, fmt.Errorf("%s: %v", f, err)
		}
		out = append(out, r)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out, nil
}

func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	// A temporary file of its own (CreateTemp makes it owner-only: a
	// job's settings may hold credentials, s3.secret-key), so that two
	// writers of one record never rename each other's half-written file.
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// nonWord is what a job id derived from a table name cannot hold.
var nonWord = regexp.MustCompile(`[^a-z0-9_]+`)

// insertJobName derives a job's id from its statement: insert-into-<sink>.
func insertJobName(st *parser.InsertStmt) string {
	return "insert-into-" + sinkWord(st.Table)
}

// sinkWord is a sink table's name as a job id can hold it.
func sinkWord(table parser.Ident) string {
	name := strings.Trim(nonWord.ReplaceAllString(strings.ToLower(table.Name), "_"), "_")
	if name == "" {
		name = "sink"
	}
	return name
}

// maxSetSinksInName is how many sinks a statement set's job id names.
const maxSetSinksInName = 3

// statementSetJobName derives a statement set's job id from its sinks:
// statement-set-<sink>-<sink>, each sink once, in order; beyond
// maxSetSinksInName of them, statement-set-a-b-c-and-2-more.
func statementSetJobName(set *parser.StatementSetStmt) string {
	var sinks []string
	seen := map[string]bool{}
	for _, in := range set.Inserts {
		if w := sinkWord(in.Table); !seen[w] {
			seen[w] = true
			sinks = append(sinks, w)
		}
	}
	name := "statement-set-" + strings.Join(sinks[:min(len(sinks), maxSetSinksInName)], "-")
	if n := len(sinks) - maxSetSinksInName; n > 0 {
		name += fmt.Sprintf("-and-%d-more", n)
	}
	return name
}
