package checkpoint

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// CheckpointInfo describes one completed checkpoint, as Commit returns it
// and List reports it.
type CheckpointInfo struct {
	ID  uint64
	Job string
	// Time is when the checkpoint began (Begin), by the store's clock.
	Time time.Time
	// Duration runs from Begin until the checkpoint was durable. (A
	// checkpoint whose process died right after the sync reports the time
	// until just before the sync.)
	Duration time.Duration
	// Alignment is the barrier alignment time the runtime reported with
	// Pending.SetAlignment.
	Alignment time.Duration
	// Bytes is the size of every record the checkpoint wrote (keys and
	// values, state, offsets, handles); Records their number.
	Bytes   int64
	Records int64
	// Operators has an entry for every operator Pending.Operator was called
	// for (the plan), sorted by id, with what that operator wrote.
	Operators []OperatorStats
	// SourceOffsets maps source operator id → split → offset, raw.
	SourceOffsets map[string]map[string][]byte
	// SinkHandles maps sink operator id → pending-commit handle, raw.
	SinkHandles map[string][]byte
	// Connectors maps source and sink operator ids to the connector that
	// wrote their offsets and handles (Pending.SetConnector), so that a
	// reader can decode them.
	Connectors map[string]string `json:",omitempty"`
	// Uploaded is the number of bytes this checkpoint uploaded to
	// Options.CheckpointDir (files the store had not uploaded before, and
	// the manifest); UploadDuration how long that took. Both are zero
	// when checkpoints are local only.
	Uploaded       int64         `json:",omitempty"`
	UploadDuration time.Duration `json:",omitempty"`
}

// OperatorStats is what one operator wrote in one checkpoint: a delta, not
// the size of its whole state.
type OperatorStats struct {
	ID      string `json:"id"`
	Sets    int64  `json:"sets"`
	Deletes int64  `json:"deletes"`
	// Bytes counts user keys and values written.
	Bytes int64 `json:"bytes"`
}

// metaRecord is the JSON stored under 'm' | id.
type metaRecord struct {
	Version     int               `json:"v"`
	ID          uint64            `json:"id"`
	Job         string            `json:"job"`
	TimeUnixNs  int64             `json:"time_unix_ns"`
	DurationNs  int64             `json:"duration_ns"`
	AlignmentNs int64             `json:"alignment_ns"`
	Operators   []OperatorStats   `json:"operators"`
	Bytes       int64             `json:"bytes"`
	Connectors  map[string]string `json:"connectors,omitempty"`
	// Digest covers every state version, offset and handle record of this
	// checkpoint (not this record, which has its own CRC).
	Digest digest `json:"digest"`
}

const metaVersion = 1

func (m *metaRecord) encode(key []byte) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	return appendCRC(b, recordCRC(key, b))
}

func decodeMeta(key, value []byte) (*metaRecord, error) {
	payload, _, ok := checkRecord(key, value)
	if !ok {
		return nil, errors.New("metadata checksum mismatch")
	}
	var m metaRecord
	if err := json.Unmarshal(payload, &m); err != nil {
		return nil, fmt.Errorf("metadata: %v", err)
	}
	if m.Version != metaVersion {
		return nil, fmt.Errorf("metadata: unknown version %d", m.Version)
	}
	if id, _ := parseIDKey(key); id != m.ID {
		return nil, fmt.Errorf("metadata: id %d under key of checkpoint %d", m.ID, id)
	}
	return &m, nil
}

func (m *metaRecord) info() CheckpointInfo {
	return CheckpointInfo{
		ID:         m.ID,
		Job:        m.Job,
		Time:       time.Unix(0, m.TimeUnixNs),
		Duration:   time.Duration(m.DurationNs),
		Alignment:  time.Duration(m.AlignmentNs),
		Bytes:      m.Bytes,
		Records:    m.Digest.Count,
		Operators:  m.Operators,
		Connectors: m.Connectors,
	}
}

func encodeDuration(d time.Duration) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(d))
}

func decodeDuration(v []byte) (time.Duration, bool) {
	if len(v) != 8 {
		return 0, false
	}
	return time.Duration(binary.BigEndian.Uint64(v)), true
}
