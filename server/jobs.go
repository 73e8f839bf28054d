package server

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/checkpoint/objstore"
	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

// jobView is a job as the API shows it.
type jobView struct {
	ID             string           `json:"id"`
	Status         engine.JobStatus `json:"status"`
	Error          string           `json:"error,omitempty"`
	SQL            string           `json:"sql"`
	Started        time.Time        `json:"started"`
	Ended          *time.Time       `json:"ended,omitempty"`
	Stats          statsView        `json:"stats"`
	LastCheckpoint *checkpointView  `json:"last_checkpoint,omitempty"`
	Savepoint      string           `json:"savepoint,omitempty"`
	// Plan is the job's operators, sources first, with their inputs.
	Plan []operatorView `json:"plan,omitempty"`
	// Member is what this process owns of a job that runs on several
	// processes as one consumer group (SET 'execution.distributed').
	Member *memberView `json:"member,omitempty"`
}

// memberView is this process's part of a job on several processes.
type memberView struct {
	Group      string    `json:"group"`
	InstanceID string    `json:"instance_id"`
	MemberID   string    `json:"member_id"`
	Generation int32     `json:"generation"`
	Partitions []string  `json:"partitions"`
	Rebalances int64     `json:"rebalances"`
	Since      time.Time `json:"since"`
	// Members are the group's members and what each owns.
	Members []groupMemberView `json:"members,omitempty"`
	// KeyGroups are the key groups of each repartition partition this
	// process owns (a job with a keyed stage); Lag the records not read
	// yet of each partition it reads.
	KeyGroups []keyGroupsView    `json:"key_groups,omitempty"`
	Lag       []partitionLagView `json:"lag,omitempty"`
	// Restore is how the assignment's keyed state was restored.
	Restore *restoreView `json:"restore,omitempty"`
}

// keyGroupsView is the key groups [first, last] one partition holds.
type keyGroupsView struct {
	Partition string `json:"partition"`
	First     int    `json:"first"`
	Last      int    `json:"last"`
}

// partitionLagView is one partition's records not read yet.
type partitionLagView struct {
	Partition string `json:"partition"`
	Records   int64  `json:"records"`
}

// restoreView is the restore of an assignment's keyed state.
type restoreView struct {
	DurationMs       float64                `json:"duration_ms"`
	Entries          int64                  `json:"entries"`
	ChangelogRecords int64                  `json:"changelog_records"`
	Partitions       []partitionRestoreView `json:"partitions"`
}

// partitionRestoreView says where one partition's keyed state came from.
type partitionRestoreView struct {
	Partition  string  `json:"partition"`
	From       string  `json:"from"` // "local" or "changelog"
	Entries    int64   `json:"entries"`
	Records    int64   `json:"changelog_records"`
	DurationMs float64 `json:"duration_ms"`
}

// groupMemberView is one member of a job's consumer group.
type groupMemberView struct {
	InstanceID string   `json:"instance_id"`
	Partitions []string `json:"partitions"`
}

type statsView struct {
	RecordsIn    int64 `json:"records_in"`
	RecordsOut   int64 `json:"records_out"`
	LateRecords  int64 `json:"late_records"`
	Malformed    int64 `json:"malformed_records"`
	StateEntries int64 `json:"state_entries"`
	// StateBytes is the encoded size of the operators' state as of their
	// last checkpoint.
	StateBytes int64 `json:"state_bytes"`
	// Watermark is the event-time watermark as SQL prints timestamps,
	// "+inf" after the end of bounded input, or absent before the first.
	Watermark string `json:"watermark,omitempty"`
	// WatermarkMillis is the watermark in epoch milliseconds.
	WatermarkMillis *int64 `json:"watermark_ms,omitempty"`
	// RestoredFrom is the checkpoint the run started from (0: fresh).
	RestoredFrom uint64 `json:"restored_from"`
	// Operators are the counters of each operator of the plan between its
	// source and its sink.
	Operators []operatorStatsView `json:"operators,omitempty"`
}

type operatorStatsView struct {
	ID           string `json:"id"`
	RecordsIn    int64  `json:"records_in"`
	RecordsOut   int64  `json:"records_out"`
	LateRecords  int64  `json:"late_records"`
	StateEntries int64  `json:"state_entries"`
	StateBytes   int64  `json:"state_bytes"`
}

type checkpointView struct {
	ID         uint64    `json:"id"`
	Time       time.Time `json:"time"`
	DurationMs float64   `json:"duration_ms"`
	Bytes      int64     `json:"bytes"`
	// AlignmentMs is the longest time a task's barrier waited for all its
	// inputs; Tasks has it per task.
	AlignmentMs float64             `json:"alignment_ms"`
	Tasks       []taskAlignmentView `json:"tasks,omitempty"`
	// Uploaded is the bytes the checkpoint uploaded to the checkpoint dir
	// (SET 'execution.checkpointing.dir'), UploadDurationMs how long that
	// took; absent when checkpoints are local only.
	Uploaded         int64   `json:"uploaded,omitempty"`
	UploadDurationMs float64 `json:"upload_duration_ms,omitempty"`
}

// taskAlignmentView is one task's barrier alignment in a checkpoint.
type taskAlignmentView struct {
	Task        string  `json:"task"`
	AlignmentMs float64 `json:"alignment_ms"`
}

func viewStats(st exec.Stats) statsView {
	v := statsView{
		RecordsIn: st.RecordsIn, RecordsOut: st.RecordsOut, LateRecords: st.LateRecords,
		Malformed: st.Malformed, StateEntries: st.StateEntries, StateBytes: st.StateBytes, RestoredFrom: st.RestoredFrom,
	}
	for _, o := range st.Operators {
		v.Operators = append(v.Operators, operatorStatsView{ID: o.ID, RecordsIn: o.RecordsIn, RecordsOut: o.RecordsOut,
			LateRecords: o.LateRecords, StateEntries: o.StateEntries, StateBytes: o.StateBytes})
	}
	switch {
	case st.Watermark == exec.MaxWatermark:
		v.Watermark = "+inf"
	case st.Watermark > exec.MinWatermark:
		ms := int64(st.Watermark)
		v.Watermark, v.WatermarkMillis = types.FormatTimestamp(ms), &ms
	}
	return v
}

func viewJob(j *engine.Job) jobView {
	st := j.Stats()
	v := jobView{ID: j.ID(), Status: j.Status(), SQL: j.SQL(), Started: j.Started().UTC(), Stats: viewStats(st), Savepoint: j.LastSavepoint(),
		Plan: planGraph(j.Query().Graph())}
	if err := j.Err(); err != nil {
		v.Error = err.Error()
	}
	if m := j.Query().Membership(); m != nil {
		v.Member = &memberView{Group: m.Group, InstanceID: m.InstanceID, MemberID: m.MemberID, Generation: m.Generation,
			Partitions: m.Partitions, Rebalances: m.Rebalances, Since: m.Since.UTC()}
		for _, g := range m.Members {
			v.Member.Members = append(v.Member.Members, groupMemberView{InstanceID: g.InstanceID, Partitions: g.Partitions})
		}
		for _, p := range m.Partitions {
			if r, ok := m.KeyGroups[p]; ok {
				v.Member.KeyGroups = append(v.Member.KeyGroups, keyGroupsView{Partition: p, First: r.Start, Last: r.End - 1})
			}
			if l, ok := m.Lag[p]; ok {
				v.Member.Lag = append(v.Member.Lag, partitionLagView{Partition: p, Records: l})
			}
		}
		if len(m.Restores) > 0 {
			r := &restoreView{DurationMs: ms(m.Restored), Entries: m.RestoredEntries, ChangelogRecords: m.ChangelogRecords}
			for _, p := range m.Restores {
				r.Partitions = append(r.Partitions, partitionRestoreView{Partition: p.Partition, From: p.From, Entries: p.Entries,
					Records: p.Records, DurationMs: ms(p.Took)})
			}
			v.Member.Restore = r
		}
	}
	if t := j.Ended(); !t.IsZero() {
		t = t.UTC()
		v.Ended = &t
	}
	if c := st.LastCheckpoint; c != nil {
		v.LastCheckpoint = &checkpointView{ID: c.ID, Time: c.Time.UTC(), DurationMs: ms(c.Duration), Bytes: c.Bytes,
			AlignmentMs: ms(c.Alignment), Uploaded: c.Uploaded, UploadDurationMs: ms(c.UploadDuration)}
		for _, t := range c.Tasks {
			v.LastCheckpoint.Tasks = append(v.LastCheckpoint.Tasks, taskAlignmentView{Task: t.Task, AlignmentMs: ms(t.Alignment)})
		}
	}
	return v
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// viewEntry shows a job of an earlier server run, from the job log, with
// the stats it ended with.
func viewEntry(e entry) jobView {
	v := jobView{ID: e.Job, Status: e.Status, Error: e.Error, SQL: e.SQL, Started: e.Submitted}
	if !e.Ended.IsZero() {
		v.Ended = &e.Ended
	}
	if f := e.Final; f != nil {
		v.Stats, v.LastCheckpoint, v.Savepoint, v.Plan = f.Stats, f.LastCheckpoint, f.Savepoint, f.Plan
	}
	return v
}

// finalView is what the job log keeps of an ended job's view.
type finalView struct {
	Stats          statsView       `json:"stats"`
	LastCheckpoint *checkpointView `json:"last_checkpoint,omitempty"`
	Savepoint      string          `json:"savepoint,omitempty"`
	Plan           []operatorView  `json:"plan,omitempty"`
}

func finalOf(j *engine.Job) *finalView {
	v := viewJob(j)
	return &finalView{Stats: v.Stats, LastCheckpoint: v.LastCheckpoint, Savepoint: v.Savepoint, Plan: v.Plan}
}

// handleJobs is GET /v1/jobs: the jobs of this run, then those of earlier
// runs that ended (from the job log), each oldest first.
func (s *Server) handleJobs(w http.ResponseWriter, r *http.Request) {
	out := []jobView{}
	for _, j := range s.eng.Jobs() {
		out = append(out, viewJob(j))
	}
	for _, e := range s.journal.history() {
		if _, ok := s.eng.Job(e.Job); !ok {
			out = append(out, viewEntry(e))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": out})
}

// job returns the job of this run named by the path. For a job of an
// earlier run it answers 409 (it is not running), for an unknown one 404.
func (s *Server) job(w http.ResponseWriter, r *http.Request) (*engine.Job, bool) {
	id := r.PathValue("id")
	j, ok := s.eng.Job(id)
	if ok {
		return j, true
	}
	if e, ok := s.pastJob(id); ok {
		writeError(w, http.StatusConflict, fmt.Errorf("job %q is not running (%s)", id, e.Status))
		return nil, false
	}
	writeError(w, http.StatusNotFound, fmt.Errorf("unknown job %q (GET /v1/jobs lists them)", id))
	return nil, false
}

func (s *Server) pastJob(id string) (entry, bool) {
	for _, e := range s.journal.history() {
		if e.Job == id {
			return e, true
		}
	}
	return entry{}, false
}

// handleJob is GET /v1/jobs/{id}.
func (s *Server) handleJob(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if j, ok := s.eng.Job(id); ok {
		writeJSON(w, http.StatusOK, viewJob(j))
		return
	}
	if e, ok := s.pastJob(id); ok {
		writeJSON(w, http.StatusOK, viewEntry(e))
		return
	}
	writeError(w, http.StatusNotFound, fmt.Errorf("unknown job %q (GET /v1/jobs lists them)", id))
}

type savepointView struct {
	Path         string     `json:"path"`
	CheckpointID uint64     `json:"checkpoint_id"`
	Time         *time.Time `json:"time,omitempty"`
}

// savepointTarget returns the location of a savepoint of j named name
// (default: the time), inside the job's savepoint dir (SET
// 'execution.checkpointing.savepoint-dir', default STATE-DIR/savepoints),
// or answers the request: 400 for a name that is not one path element, or
// a job id that would lead outside, 409 when it exists (in a directory).
func (s *Server) savepointTarget(w http.ResponseWriter, j *engine.Job, name string) (string, bool) {
	job := j.ID()
	if name == "" {
		name = savepointName()
	} else if !validSavepointName(name) {
		writeError(w, http.StatusBadRequest, fmt.Errorf("savepoint name %q: use letters, digits, '.', '_' and '-' (at most 128, not starting with '.')", name))
		return "", false
	}
	if root := j.SavepointRoot(); objstore.IsRemote(root) {
		// The job id and name are path-escaped into one element of the
		// prefix; an existing object there is not probed (the savepoint's
		// manifest is written last and names its own checkpoint).
		return j.SavepointTarget(name), true
	}
	root := filepath.Join(s.eng.StateDir(), "savepoints")
	if r := j.SavepointRoot(); r != "" {
		root = strings.TrimPrefix(r, "file://")
	}
	dir := j.SavepointTarget(name)
	if rel, err := filepath.Rel(root, dir); err != nil || rel == "." || strings.ContainsRune(rel, filepath.Separator) || strings.HasPrefix(rel, "..") {
		writeError(w, http.StatusBadRequest, fmt.Errorf("job %q: its id cannot name a savepoint directory inside %s", job, root))
		return "", false
	}
	if _, err := os.Lstat(dir); err == nil {
		writeError(w, http.StatusConflict, fmt.Errorf("savepoint %q of job %q already exists (%s)", name, job, dir))
		return "", false
	}
	return dir, true
}

func validSavepointName(name string) bool {
	if name == "" || len(name) > 128 || name[0] == '.' {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// handleListSavepoints is GET /v1/jobs/{id}/savepoints: the savepoints in
// STATE-DIR/savepoints whose manifest names the job, oldest first.
func (s *Server) handleListSavepoints(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	_, running := s.eng.Job(id)
	_, past := s.pastJob(id)
	known := running || past || slices.Contains(engine.Jobs(s.eng.StateDir()), id)
	root := filepath.Join(s.eng.StateDir(), "savepoints")
	ents, err := os.ReadDir(root)
	if err != nil && !os.IsNotExist(err) {
		writeError(w, http.StatusInternalServerError, fmt.Errorf("listing savepoints: %w", err))
		return
	}
	out := []savepointView{}
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		info, err := checkpoint.ReadSavepoint(filepath.Join(root, e.Name()))
		if err != nil || info.Job != id {
			continue
		}
		t := info.Time.UTC()
		out = append(out, savepointView{Path: filepath.Join(root, e.Name()), CheckpointID: info.CheckpointID, Time: &t})
	}
	if len(out) == 0 && !known {
		writeError(w, http.StatusNotFound, fmt.Errorf("unknown job %q (GET /v1/jobs lists them)", id))
		return
	}
	slices.SortFunc(out, func(a, b savepointView) int { return a.Time.Compare(*b.Time) })
	writeJSON(w, http.StatusOK, map[string]any{"job": id, "savepoints": out})
}

// handleStop is POST /v1/jobs/{id}/stop, with an optional body
// {"savepoint": true}.
func (s *Server) handleStop(w http.ResponseWriter, r *http.Request) {
	j, ok := s.job(w, r)
	if !ok {
		return
	}
	var req struct {
		Savepoint bool   `json:"savepoint"`
		Name      string `json:"name"` // implies savepoint
	}
	if !readJSON(w, r, &req) {
		return
	}
	if st := j.Status(); st != engine.Running {
		writeError(w, http.StatusConflict, fmt.Errorf("job %q is not running (%s)", j.ID(), st))
		return
	}
	if err := j.AwaitStarted(r.Context()); err != nil {
		writeError(w, http.StatusConflict, err)
		return
	}
	dir := ""
	if req.Savepoint || req.Name != "" {
		if dir, ok = s.savepointTarget(w, j, req.Name); !ok {
			return
		}
	}
	res, err := j.Stop(r.Context(), dir)
	if err != nil {
		code := http.StatusInternalServerError
		if j.Status() != engine.Running && !errors.Is(err, r.Context().Err()) {
			code = http.StatusConflict
		}
		writeError(w, code, err)
		return
	}
	out := map[string]any{"job": viewJob(j)}
	if res.Info.Path != "" {
		out["savepoint"] = savepointView{Path: res.Info.Path, CheckpointID: res.Info.CheckpointID}
	}
	writeJSON(w, http.StatusOK, out)
}

// handleSavepoint is POST /v1/jobs/{id}/savepoints.
func (s *Server) handleSavepoint(w http.ResponseWriter, r *http.Request) {
	j, ok := s.job(w, r)
	if !ok {
		return
	}
	var req struct {
		Name string `json:"name"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	if st := j.Status(); st != engine.Running {
		writeError(w, http.StatusConflict, fmt.Errorf("job %q is not running (%s)", j.ID(), st))
		return
	}
	dir, ok := s.savepointTarget(w, j, req.Name)
	if !ok {
		return
	}
	if err := j.AwaitStarted(r.Context()); err != nil {
		writeError(w, http.StatusConflict, err)
		return
	}
	res, err := j.Savepoint(r.Context(), dir)
	if err != nil {
		code := http.StatusInternalServerError
		if j.Status() != engine.Running || errors.Is(err, exec.ErrMemberSavepoint) {
			code = http.StatusConflict
		}
		writeError(w, code, err)
		return
	}
	writeJSON(w, http.StatusOK, savepointView{Path: res.Info.Path, CheckpointID: res.Info.CheckpointID})
}

// checkpointInfoView is one retained checkpoint.
type checkpointInfoView struct {
	ID          uint64    `json:"id"`
	Time        time.Time `json:"time"`
	DurationMs  float64   `json:"duration_ms"`
	AlignmentMs float64   `json:"alignment_ms"`
	Bytes       int64     `json:"bytes"`
	Records     int64     `json:"records"`
}

type failuresView struct {
	Count     int64      `json:"count"`
	LastID    uint64     `json:"last_id,omitempty"`
	LastTime  *time.Time `json:"last_time,omitempty"`
	LastError string     `json:"last_error,omitempty"`
}

// handleCheckpoints is GET /v1/jobs/{id}/checkpoints: the checkpoints of
// a job of the server, or of any job with a directory in the state dir.
func (s *Server) handleCheckpoints(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	j, known := s.eng.Job(id)
	if !known && !slices.Contains(engine.Jobs(s.eng.StateDir()), id) {
		writeError(w, http.StatusNotFound, fmt.Errorf("unknown job %q (GET /v1/jobs lists them)", id))
		return
	}
	var st engine.Status
	var err error
	if known && j.Status() == engine.Running {
		// The job holds its store: read what it wrote after its last
		// checkpoint, without contending for the store's lock.
		st, err = engine.ReadStatusFile(s.eng.StateDir(), id)
		st.Running = true
	} else {
		st, err = engine.ReadStatus(s.eng.StateDir(), id)
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err)
		return
	}
	cps := []checkpointInfoView{}
	for _, c := range st.Checkpoints {
		cps = append(cps, checkpointInfoView{ID: c.ID, Time: c.Time.UTC(), DurationMs: ms(c.Duration), AlignmentMs: ms(c.Alignment), Bytes: c.Bytes, Records: c.Records})
	}
	f := failuresView{Count: st.Failures.Count, LastID: st.Failures.LastID, LastError: st.Failures.LastError}
	if !st.Failures.LastTime.IsZero() {
		t := st.Failures.LastTime.UTC()
		f.LastTime = &t
	}
	writeJSON(w, http.StatusOK, map[string]any{"job": id, "running": st.Running, "checkpoints": cps, "failures": f})
}
