package kafka

// The changelog positions a process's local state covers (a job on several
// processes with a keyed stage, see stage.go). The local checkpoint of
// the keyed operator is written before the Kafka transaction of the same
// checkpoint commits; only once that transaction committed does the
// sink of stage 1 know which changelog position the checkpoint covers.
// So, after each committed transaction, it rewrites a small file beside
// the local checkpoint store (OptChangelogPositions, atomically: write,
// sync, rename) that names the checkpoint and, per changelog partition it
// owns, the partition's end offset then and the repartition offset its
// transaction committed. A process that gains a partition restores it
// from its local checkpoint only when that checkpoint is the one the file
// names and the partition's changelog end and committed offset are still
// those the file holds: nothing was written into the changelog partition
// since (no other owner in between, no aborted transaction of this one),
// so its content is the local state. Otherwise it replays the changelog.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/IBM/sarama"
)

// OptChangelogPositions (sink of stage 1): the file the sink rewrites
// after every committed transaction with the changelog positions
// (ChangelogPositions) the checkpoint it committed covers.
const OptChangelogPositions = "streamsql.changelog.positions"

// ChangelogPositions is what a local checkpoint of a keyed stage covers.
type ChangelogPositions struct {
	// Checkpoint is the local checkpoint whose Kafka transaction committed.
	Checkpoint int64 `json:"checkpoint"`
	// Changelog and Owner are the changelog and repartition topics.
	Changelog string `json:"changelog"`
	Owner     string `json:"owner"`
	// Partitions are the changelog partitions the process owned then.
	Partitions map[int32]ChangelogPosition `json:"partitions"`
}

// ChangelogPosition is one changelog partition's position.
type ChangelogPosition struct {
	// End is the changelog partition's end offset (high watermark, with
	// the commit marker of the transaction) after the transaction.
	End int64 `json:"changelog_end"`
	// Offset is the offset of the owner (repartition) partition the
	// group's committed offset then was, -1 for none.
	Offset int64 `json:"input_offset"`
}

// WritePositions writes p into path atomically (a reader sees the old
// file or the new one, never part).
func WritePositions(path string, p ChangelogPositions) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// ReadPositions reads the file WritePositions wrote (an error wrapping
// os.ErrNotExist when there is none).
func ReadPositions(path string) (ChangelogPositions, error) {
	var p ChangelogPositions
	b, err := os.ReadFile(path)
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("changelog positions %s: %w", path, err)
	}
	return p, nil
}

// CurrentPositions returns, per partition of ps, the changelog partition's
// end offset and the group's committed offset of the owner partition, once
// no transaction that commits the owner partition's offset is open (as
// ReadChangelog waits for). A local checkpoint whose positions are these
// holds what the changelog partition holds.
func CurrentPositions(ctx context.Context, opts map[string]string, group, owner, topic string, ps []int32) (map[int32]ChangelogPosition, error) {
	brokers, sc, err := GroupConfig(opts)
	if err != nil {
		return nil, err
	}
	c := *sc
	c.Consumer.IsolationLevel = sarama.ReadUncommitted // the end with open and aborted transactions
	client, err := newClientRetry(ctx, brokers, &c)
	if err != nil {
		return nil, fmt.Errorf("kafka: changelog %q: %w", topic, err)
	}
	defer client.Close()
	src := &source{client: client, sconf: &c, conf: config{groupID: group}, log: slog.New(slog.DiscardHandler)}
	out := map[int32]ChangelogPosition{}
	for _, p := range ps {
		off, _, err := src.stableOffset(topicPartition{owner, p})
		if err != nil {
			return nil, fmt.Errorf("kafka: changelog %q: offsets of %s/%d: %w", topic, owner, p, err)
		}
		end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return nil, fmt.Errorf("kafka: changelog %q partition %d: %w", topic, p, err)
		}
		out[p] = ChangelogPosition{End: end, Offset: off}
	}
	return out, nil
}

// positions is the part of stageSink that keeps ChangelogPositions.
type positions struct {
	path string
	// pending are the owner offsets of the open transaction, committed
	// the last committed ones.
	pending, committed map[int32]int64
	// last is the highest offset the open transaction wrote per changelog
	// partition (acknowledged).
	last map[int32]int64
}

// addOffset records the owner partition's offset the open transaction
// commits.
func (st *stageSink) addOffset(topic string, p int32, next int64) {
	if st == nil || st.pos == nil || topic != st.owner {
		return
	}
	st.pos.pending[p] = next
}

// acked records an acknowledged changelog record (under the sink's mu).
func (st *stageSink) acked(m *sarama.ProducerMessage) {
	if st == nil || st.pos == nil || m.Topic != st.changelog {
		return
	}
	if o, ok := st.pos.last[m.Partition]; !ok || m.Offset > o {
		st.pos.last[m.Partition] = m.Offset
	}
}

// committedTxn rewrites the positions file after the transaction of
// checkpoint id committed: per owned changelog partition, its end (once
// the transaction's commit marker is in it) and the committed offset. When
// the end cannot be learned the file is removed: without it a restart
// replays the changelog, which is always right.
func (s *sink) committedTxn(id int64) {
	st := s.st
	if st == nil || st.pos == nil || s.cfg.Member == nil {
		return
	}
	s.mu.Lock()
	last := st.pos.last
	st.pos.last = map[int32]int64{}
	s.mu.Unlock()
	for p, o := range st.pos.pending {
		st.pos.committed[p] = o
	}
	clear(st.pos.pending)
	out := ChangelogPositions{Checkpoint: id, Changelog: st.changelog, Owner: st.owner, Partitions: map[int32]ChangelogPosition{}}
	err := func() error {
		for _, p := range s.cfg.Member.Partitions[st.owner] {
			if int(p) >= st.clParts {
				continue
			}
			// The commit marker follows the last record; the coordinator may
			// write it after the commit returned. An end recorded without it
			// is only too small: it never matches, and the next takeover
			// replays.
			var end int64
			for deadline := time.Now().Add(time.Second); ; time.Sleep(10 * time.Millisecond) {
				var err error
				if end, err = s.client.GetOffset(st.changelog, p, sarama.OffsetNewest); err != nil {
					return err
				}
				if o, ok := last[p]; !ok || end >= o+2 || time.Now().After(deadline) {
					break
				}
			}
			off, ok := st.pos.committed[p]
			if !ok {
				off = -1
			}
			out.Partitions[p] = ChangelogPosition{End: end, Offset: off}
		}
		return WritePositions(st.pos.path, out)
	}()
	if err != nil {
		loggerOf(s.cfg.Logger).Warn("cannot record the changelog positions of the local checkpoint; the next takeover replays the changelog",
			"table", s.cfg.Table, "changelog", st.changelog, "checkpoint", id, "err", err)
		if rerr := os.Remove(st.pos.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			loggerOf(s.cfg.Logger).Warn("cannot remove the changelog positions file", "path", st.pos.path, "err", rerr)
		}
	}
}
