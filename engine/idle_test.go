package engine_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/connectors/builtin"
	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

// TestIdlenessPausesWhileBackpressured: a split is idle after the idle
// timeout of waiting for input, not of wall-clock time. Here the query's
// consumer stalls for 2 s (a slow sink, or sinks waiting for a checkpoint
// upload) while split 1 has produced nothing since before the stall; the
// source is held the whole time, and then split 0's event time goes on
// past the end of [10 s, 20 s). Split 1's next rows, in that window, must
// be counted in it: split 1 holds the watermark back, rather than having
// "gone idle" while nobody was reading it, letting the window fire and
// its rows be dropped as late. The idle timeout (1 s) is half the stall,
// and leaves the source's own reads after the stall (130 steps and 240 ms
// of waiting) most of a second even on a loaded machine.
func TestIdlenessPausesWhileBackpressured(t *testing.T) {
	const sec = 1000
	var script []scriptStep
	at := func(split int, ts ...int64) { script = append(script, scriptStep{split: split, ts: ts}) }
	for i := int64(0); i < 10; i++ { // window [0 s, 10 s): 20 rows
		at(0, i*sec)
		at(1, i*sec+500)
	}
	at(0, 11*sec) // the watermark reaches 11 s on both splits: [0, 10) fires,
	at(1, 11*sec) // and the consumer stalls
	for i := int64(0); i < 130; i++ {
		at(0, 12*sec+i*100) // split 0 goes on to 24.9 s, past [10, 20)
	}
	for i := 0; i < 4; i++ {
		script = append(script, scriptStep{wait: 60 * time.Millisecond}) // nothing to read, 240 ms
	}
	at(1, 15*sec, 15*sec+1, 15*sec+2) // split 1's next rows: not late
	at(0, 100*sec)
	at(1, 100*sec)

	reg := builtin.Registry(os.Stdout)
	reg.Register(scriptConnector{script: script})
	eng := engine.New(engine.Options{StateDir: t.TempDir(), CheckpointInterval: -1}, engine.WithRegistry(reg))
	defer eng.Close(context.Background())
	res, err := execSQL(eng, `
CREATE TABLE ev (split INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
WITH ('connector' = 'script', 'scan.watermark.idle-timeout' = '1 s');
SELECT window_start, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '10' SECOND))
GROUP BY window_start, window_end;`)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []string
	stalled := false
	err = res.Query.Run(ctx, func(rec arrow.Record) error {
		if !stalled {
			stalled = true
			time.Sleep(2 * time.Second)
		}
		for _, row := range engine.Rows(rec) {
			got = append(got, *row[0]+" "+*row[1])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"2024-01-01 00:00:00.000 20",
		"2024-01-01 00:00:10.000 85", // 2 at 11 s, 80 of split 0, 3 of split 1
		"2024-01-01 00:00:20.000 50",
		"2024-01-01 00:01:40.000 2",
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("windows:\n got %q\nwant %q", got, want)
	}
	if late := res.Query.Stats().LateRecords; late != 0 {
		t.Fatalf("%d rows dropped as late", late)
	}
}

// scriptStep is one Read of the script source: a batch of rows of split
// (the rows' event times in ms after 2024-01-01), or, with wait set,
// nothing to read for that long.
type scriptStep struct {
	split int
	ts    []int64
	wait  time.Duration
}

// scriptConnector is the 'script' connector: a bounded source of (split
// INT, ts TIMESTAMP(3)) rows that plays its steps in order over two splits.
type scriptConnector struct{ script []scriptStep }

func (scriptConnector) Name() string { return "script" }
func (scriptConnector) Options() []connectors.Option {
	return []connectors.Option{{Key: "scan.watermark.idle-timeout", Source: true}}
}
func (scriptConnector) NewSink(exec.SinkConfig) (exec.Sink, error) {
	return nil, errors.New("connector 'script' can only be used as a source")
}

func (scriptConnector) Validate(_ map[string]string, _ types.Schema, sink bool) error {
	if sink {
		return &connectors.OptionError{Key: "connector", Msg: "connector 'script' can only be used as a source"}
	}
	return nil
}

func (c scriptConnector) NewSource(cfg exec.SourceConfig) (exec.Source, error) {
	return &scriptSource{cfg: cfg, script: c.script}, nil
}

type scriptSource struct {
	cfg    exec.SourceConfig
	script []scriptStep
	next   int
}

func (s *scriptSource) Open(_ context.Context, offsets map[string][]byte) error {
	if o, ok := offsets["0"]; ok && len(o) == 8 {
		s.next = int(binary.BigEndian.Uint64(o))
	}
	return nil
}

func (s *scriptSource) Read(ctx context.Context) (arrow.Record, int, error) {
	if s.next >= len(s.script) {
		return nil, 0, io.EOF
	}
	st := s.script[s.next]
	s.next++
	if st.wait > 0 {
		select {
		case <-time.After(st.wait):
			return nil, 0, nil
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
	b := array.NewRecordBuilder(s.cfg.Alloc, s.cfg.Schema.Arrow())
	defer b.Release()
	for _, ts := range st.ts {
		b.Field(0).(*array.Int32Builder).Append(int32(st.split))
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(epoch + ts))
	}
	return b.NewRecord(), st.split, nil
}

func (s *scriptSource) Splits() int            { return 2 }
func (s *scriptSource) SplitName(i int) string { return fmt.Sprint(i) }

func (s *scriptSource) Offsets(fn func(string, []byte) error) error {
	return fn("0", binary.BigEndian.AppendUint64(nil, uint64(s.next)))
}

func (s *scriptSource) Close() error { return nil }
