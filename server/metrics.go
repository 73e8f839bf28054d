package server

import (
	"bytes"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/exec"
)

// metric is one family of the exposition: its samples are appended by
// label set.
type metric struct {
	name, help, typ string
	samples         []sample
}

type sample struct {
	labels [][2]string
	value  float64
}

func (m *metric) add(v float64, labels ...string) {
	s := sample{value: v}
	for i := 0; i+1 < len(labels); i += 2 {
		s.labels = append(s.labels, [2]string{labels[i], labels[i+1]})
	}
	m.samples = append(m.samples, s)
}

// The metric families /metrics exports, in order.
type families struct {
	status, recordsIn, recordsOut, late, malformed, watermark, stateEntries, stateBytes, opEntries, opBytes, restoredFrom,
	lastID, retained, lastDuration, lastSize, lastTime, uploaded, uploadSeconds, failures, lag,
	generation, owned, rebalances metric
	groupOwner                                                             metric
	partLag, keyGroups, restoreSeconds, restoredEntries, restoredPartition metric
}

func newFamilies() *families {
	return &families{
		status:        metric{name: "streamsql_job_status", typ: "gauge", help: "1 for the job's current status (label status), per job."},
		recordsIn:     metric{name: "streamsql_job_records_in_total", typ: "counter", help: "Rows read by the job's source in this run."},
		recordsOut:    metric{name: "streamsql_job_records_out_total", typ: "counter", help: "Rows written to the job's sink in this run."},
		late:          metric{name: "streamsql_job_late_records_total", typ: "counter", help: "Rows dropped as later than the watermark, over all operators."},
		malformed:     metric{name: "streamsql_job_malformed_records_total", typ: "counter", help: "Source records skipped as malformed."},
		watermark:     metric{name: "streamsql_job_watermark_seconds", typ: "gauge", help: "The job's event-time watermark, in seconds since the epoch (absent before the first; +Inf after bounded input ended)."},
		stateEntries:  metric{name: "streamsql_job_state_entries", typ: "gauge", help: "Open (window, key) accumulators."},
		stateBytes:    metric{name: "streamsql_job_state_bytes", typ: "gauge", help: "Encoded size (keys and values) of the job's operator state as of its last checkpoint."},
		opEntries:     metric{name: "streamsql_operator_state_entries", typ: "gauge", help: "Live state entries of an operator, per operator."},
		opBytes:       metric{name: "streamsql_operator_state_bytes", typ: "gauge", help: "Encoded size (keys and values) of an operator's state as of its last checkpoint, per operator."},
		restoredFrom:  metric{name: "streamsql_job_restored_from_checkpoint", typ: "gauge", help: "The checkpoint id the run restored from (0: started fresh)."},
		lastID:        metric{name: "streamsql_job_last_checkpoint_id", typ: "gauge", help: "Id of the last completed checkpoint (ids count every checkpoint the job ever took)."},
		retained:      metric{name: "streamsql_job_checkpoints_retained", typ: "gauge", help: "Completed checkpoints retained in the state directory."},
		lastDuration:  metric{name: "streamsql_job_last_checkpoint_duration_seconds", typ: "gauge", help: "Duration of the last completed checkpoint."},
		lastSize:      metric{name: "streamsql_job_last_checkpoint_size_bytes", typ: "gauge", help: "Bytes the last completed checkpoint wrote."},
		lastTime:      metric{name: "streamsql_job_last_checkpoint_timestamp_seconds", typ: "gauge", help: "When the last completed checkpoint began, in seconds since the epoch."},
		uploaded:      metric{name: "streamsql_checkpoint_uploaded_bytes", typ: "gauge", help: "Bytes the last completed checkpoint uploaded to the checkpoint dir (only for jobs with one)."},
		uploadSeconds: metric{name: "streamsql_checkpoint_upload_seconds", typ: "gauge", help: "How long the last completed checkpoint's upload to the checkpoint dir took (only for jobs with one)."},
		failures:      metric{name: "streamsql_job_checkpoint_failures_total", typ: "counter", help: "Checkpoints that failed, over the job's life."},
		lag:           metric{name: "streamsql_source_lag_records", typ: "gauge", help: "Records the job's source is behind, per partition (only for sources that report lag)."},
		generation:    metric{name: "streamsql_job_group_generation", typ: "gauge", help: "A job on several processes: the consumer group generation of this process's assignment."},
		owned:         metric{name: "streamsql_job_partition_owned", typ: "gauge", help: "A job on several processes: 1 for each source partition this process reads (label partition)."},
		groupOwner: metric{name: "streamsql_job_group_partition_owner", typ: "gauge",
			help: "A job on several processes: 1 for each partition of the group and the instance that owns it, as the group's leader assigned them (labels partition, instance)."},
		rebalances: metric{name: "streamsql_job_rebalances_total", typ: "counter", help: "A job on several processes: the assignments this process received (each rebalance of the group gives one)."},
		partLag: metric{name: "streamsql_job_partition_lag_records", typ: "gauge",
			help: "A job on several processes: records not read yet (high watermark less the reader's position) of each source and repartition partition this process reads (labels topic, partition)."},
		keyGroups: metric{name: "streamsql_job_partition_key_groups", typ: "gauge",
			help: "A job on several processes: the number of key groups of each repartition partition this process owns (labels topic, partition, first, last)."},
		restoreSeconds: metric{name: "streamsql_job_restore_seconds", typ: "gauge",
			help: "A job on several processes: how long the restore of the keyed state of the current assignment took."},
		restoredEntries: metric{name: "streamsql_job_restored_entries", typ: "gauge",
			help: "A job on several processes: the keyed state entries the current assignment restored."},
		restoredPartition: metric{name: "streamsql_job_partition_restored_entries", typ: "gauge",
			help: "A job on several processes: the keyed state entries each repartition partition of the current assignment restored, and from where (labels topic, partition, from: local or changelog)."},
	}
}

func (f *families) all() []*metric {
	return []*metric{&f.status, &f.recordsIn, &f.recordsOut, &f.late, &f.malformed, &f.watermark, &f.stateEntries, &f.stateBytes, &f.opEntries, &f.opBytes,
		&f.restoredFrom, &f.lastID, &f.retained, &f.lastDuration, &f.lastSize, &f.lastTime, &f.uploaded, &f.uploadSeconds, &f.failures, &f.lag,
		&f.generation, &f.owned, &f.rebalances, &f.groupOwner, &f.partLag, &f.keyGroups, &f.restoreSeconds, &f.restoredEntries, &f.restoredPartition}
}

var jobStatuses = []engine.JobStatus{engine.Running, engine.Finished, engine.Failed, engine.Canceled, engine.Stopped}

// handleMetrics is GET /metrics, in the Prometheus text exposition format
// (version 0.0.4).
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	f := newFamilies()
	for _, j := range s.eng.Jobs() {
		id := j.ID()
		status := j.Status()
		for _, st := range jobStatuses {
			v := 0.0
			if st == status {
				v = 1
			}
			f.status.add(v, "job", id, "status", string(st))
		}
		st := j.Stats()
		f.recordsIn.add(float64(st.RecordsIn), "job", id)
		f.recordsOut.add(float64(st.RecordsOut), "job", id)
		f.late.add(float64(st.LateRecords), "job", id)
		f.malformed.add(float64(st.Malformed), "job", id)
		f.stateEntries.add(float64(st.StateEntries), "job", id)
		f.stateBytes.add(float64(st.StateBytes), "job", id)
		for _, o := range st.Operators {
			f.opEntries.add(float64(o.StateEntries), "job", id, "operator", o.ID)
			f.opBytes.add(float64(o.StateBytes), "job", id, "operator", o.ID)
		}
		f.restoredFrom.add(float64(st.RestoredFrom), "job", id)
		switch {
		case st.Watermark == exec.MaxWatermark:
			f.watermark.add(math.Inf(1), "job", id)
		case st.Watermark > exec.MinWatermark:
			f.watermark.add(float64(st.Watermark)/1000, "job", id)
		}
		if c := st.LastCheckpoint; c != nil {
			f.lastID.add(float64(c.ID), "job", id)
			f.lastDuration.add(c.Duration.Seconds(), "job", id)
			f.lastSize.add(float64(c.Bytes), "job", id)
			f.lastTime.add(float64(c.Time.UnixMilli())/1000, "job", id)
			if c.UploadDuration > 0 {
				f.uploaded.add(float64(c.Uploaded), "job", id)
				f.uploadSeconds.add(c.UploadDuration.Seconds(), "job", id)
			}
		}
		// The status file, not the store: a scrape never takes a job's
		// store lock.
		if cs, err := engine.ReadStatusFile(s.eng.StateDir(), id); err == nil {
			f.retained.add(float64(len(cs.Checkpoints)), "job", id)
			f.failures.add(float64(cs.Failures.Count), "job", id)
		}
		if m := j.Query().Membership(); m != nil && status == engine.Running {
			f.generation.add(float64(m.Generation), "job", id)
			f.rebalances.add(float64(m.Rebalances), "job", id)
			for _, p := range m.Partitions {
				f.owned.add(1, "job", id, "partition", p)
			}
			for _, g := range m.Members {
				for _, p := range g.Partitions {
					f.groupOwner.add(1, "job", id, "partition", p, "instance", g.InstanceID)
				}
			}
			for _, p := range m.Partitions {
				topic, part := splitPartition(p)
				if l, ok := m.Lag[p]; ok {
					f.partLag.add(float64(l), "job", id, "topic", topic, "partition", part)
				}
				if r, ok := m.KeyGroups[p]; ok {
					f.keyGroups.add(float64(r.Len()), "job", id, "topic", topic, "partition", part,
						"first", strconv.Itoa(r.Start), "last", strconv.Itoa(r.End-1))
				}
			}
			if len(m.Restores) > 0 {
				f.restoreSeconds.add(m.Restored.Seconds(), "job", id)
				f.restoredEntries.add(float64(m.RestoredEntries), "job", id)
				for _, r := range m.Restores {
					topic, part := splitPartition(r.Partition)
					f.restoredPartition.add(float64(r.Entries), "job", id, "topic", topic, "partition", part, "from", r.From)
				}
			}
		}
		if status == engine.Running {
			lag := st.SourceLag
			parts := make([]string, 0, len(lag))
			for p := range lag {
				parts = append(parts, p)
			}
			sort.Strings(parts)
			for _, p := range parts {
				f.lag.add(float64(lag[p]), "job", id, "partition", p)
			}
		}
	}
	var b bytes.Buffer
	for _, m := range f.all() {
		writeFamily(&b, m)
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write(b.Bytes())
}

// splitPartition splits "topic/partition".
func splitPartition(p string) (topic, partition string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return p, ""
	}
	return p[:i], p[i+1:]
}

// writeFamily writes a family's HELP and TYPE lines and its samples.
// Families are written even without samples, so scrapers see them.
func writeFamily(b *bytes.Buffer, m *metric) {
	b.WriteString("# HELP " + m.name + " " + escapeHelp(m.help) + "\n")
	b.WriteString("# TYPE " + m.name + " " + m.typ + "\n")
	for _, s := range m.samples {
		b.WriteString(m.name)
		if len(s.labels) > 0 {
			b.WriteByte('{')
			for i, l := range s.labels {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(l[0] + `="` + escapeLabel(l[1]) + `"`)
			}
			b.WriteByte('}')
		}
		b.WriteByte(' ')
		b.WriteString(formatValue(s.value))
		b.WriteByte('\n')
	}
}

func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeLabel(s string) string { return labelEscaper.Replace(s) }
