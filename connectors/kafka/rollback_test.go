package kafka_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
	"github.com/streamsql/streamsql/engine"
)

const rollbackQuery = `
SET 'execution.checkpointing.interval' = '100 ms';
SET 'pipeline.name' = 'rb';
CREATE TABLE src (id BIGINT) WITH ('connector' = 'kafka', 'topic' = 'in', 'properties.bootstrap.servers' = '%[1]s',
  'scan.startup.mode' = 'earliest-offset', 'format' = 'json');
CREATE TABLE dst (id BIGINT) WITH ('connector' = 'kafka', 'topic' = 'out', 'properties.bootstrap.servers' = '%[1]s',
  'format' = 'json', 'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'tx');
INSERT INTO dst SELECT id FROM src;
`

// completed is the newest checkpoint the job's catalogue records.
func completed(t *testing.T, stateDir string) uint64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(stateDir, "rb", "COMPLETED"))
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	must(t, err)
	var r struct {
		ID uint64 `json:"checkpoint_id"`
	}
	must(t, json.Unmarshal(b, &r))
	return r.ID
}

// runRollbackJob runs the job on stateDir until done returns true (then
// stops it and returns nil) or the job fails (its error).
func runRollbackJob(t *testing.T, b *kafkatest.Broker, stateDir string, allow bool, done func() bool) error {
	return runRollbackJobOpts(t, b, engine.Options{StateDir: stateDir, AllowRollback: allow}, done)
}

func runRollbackJobOpts(t *testing.T, b *kafkatest.Broker, o engine.Options, done func() bool) error {
	stateDir := o.StateDir
	t.Helper()
	stmts, err := engine.Parse("rb.sql", fmt.Sprintf(rollbackQuery, b.Addr()))
	must(t, err)
	eng := engine.New(o)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, st := range stmts {
		res, err := eng.Execute(ctx, st)
		must(t, err)
		if res.Kind != engine.Query {
			continue
		}
		ended := make(chan error, 1)
		go func() { ended <- res.Query.Run(ctx, nil) }()
		for !done() {
			select {
			case err := <-ended:
				if ctx.Err() != nil {
					entries, _ := os.ReadDir(filepath.Join(stateDir, "rb"))
					t.Fatalf("timeout: completed %d, %d rows, dir %v, stats %+v", completed(t, stateDir), outRowsOf(t, b), entries, res.Query.Stats())
				}
				return err
			case <-time.After(20 * time.Millisecond):
			}
			if ctx.Err() != nil {
				entries, _ := os.ReadDir(stateDir)
				t.Fatalf("timeout: completed %d, %d rows, dir %v", completed(t, stateDir), outRowsOf(t, b), entries)
			}
		}
		cancel()
		<-ended
	}
	return nil
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	must(t, filepath.Walk(from, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, info.Mode())
	}))
}

// TestKafkaSinkRefusesRolledBackStateDir is issue 10's case of a job
// directory replaced by an older copy (COMPLETED included, so the
// checkpoint catalogue cannot tell): a job writes into an exactly-once
// Kafka sink; a copy of its state directory is kept at its first
// checkpoints; the job goes on until it committed output of later
// checkpoints. Restarted from the old copy, it refuses, naming both
// checkpoint ids and --allow-rollback; with AllowRollback it runs, and
// repeats the output committed since, as it said.
func TestKafkaSinkRefusesRolledBackStateDir(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{Topics: []string{"in", "out"}})
	produce := func(from, to int) {
		var recs []kafkatest.Record
		for i := from; i < to; i++ {
			recs = append(recs, kafkatest.Record{Value: fmt.Appendf(nil, `{"id":%d}`, i)})
		}
		must(t, b.Produce("in", recs...))
	}
	outRows := func() int { return outRowsOf(t, b) }
	state, old := t.TempDir(), t.TempDir()
	produce(0, 10)
	must(t, runRollbackJob(t, b, state, false, func() bool { return completed(t, state) >= 1 && outRows() >= 10 }))
	copyDir(t, state, old)
	oldID := completed(t, old)
	produce(10, 20)
	must(t, runRollbackJob(t, b, state, false, func() bool { return completed(t, state) >= oldID+2 && outRows() >= 20 }))
	if n := outRows(); n != 20 {
		t.Fatalf("%d rows before the rollback, want 20", n)
	}

	err := runRollbackJob(t, b, old, false, func() bool { return false })
	m := regexp.MustCompile(`committed the output of checkpoint (\d+) .* but this run restores checkpoint (\d+)`).FindStringSubmatch(fmt.Sprint(err))
	if m == nil || m[2] != strconv.FormatUint(oldID, 10) || !regexp.MustCompile(`--allow-rollback.*--fresh`).MatchString(err.Error()) {
		t.Fatalf("restart from the copy at checkpoint %d: got %v, want a refusal naming both checkpoints and --allow-rollback", oldID, err)
	}
	if newer, _ := strconv.ParseUint(m[1], 10, 64); newer <= oldID {
		t.Fatalf("the refusal names checkpoint %d as committed, not newer than %d", newer, oldID)
	}
	if n := outRows(); n != 20 {
		t.Fatalf("the refused run changed the output: %d rows", n)
	}
	// Accepted: it runs from the old copy, repeating rows 10..19.
	must(t, runRollbackJob(t, b, old, true, func() bool { return outRows() >= 30 }))
	// A fresh state directory is refused too; --fresh is accepted.
	err = runRollbackJob(t, b, t.TempDir(), false, func() bool { return false })
	if err == nil || !regexp.MustCompile(`this run starts without a checkpoint.*--allow-rollback.*--fresh`).MatchString(err.Error()) {
		t.Fatalf("fresh state directory: got %v", err)
	}
	fresh := t.TempDir()
	must(t, runRollbackJobOpts(t, b, engine.Options{StateDir: fresh, Fresh: true}, func() bool { return completed(t, fresh) >= 1 && outRows() >= 50 }))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func outRowsOf(t *testing.T, b *kafkatest.Broker) int {
	recs, err := b.Read(context.Background(), "out", kafkatest.ReadOptions{Quiet: 300 * time.Millisecond})
	must(t, err)
	return len(recs)
}
