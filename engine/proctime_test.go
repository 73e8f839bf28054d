package engine_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/connectors/builtin"
	"github.com/streamsql/streamsql/connectors/format"
	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

// The processing-time tests drive time with an injected clock that a
// scripted source moves: each step sets the clock, then yields a batch of
// keys. Windows over PROCTIME() must follow that clock, and fire on it
// (processing-time timers), not at the end of the input.

// stepClock is a clock that only the script moves.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *stepClock) set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// step is one move of a script: the clock's new time, then a batch of
// rows (k values); no keys means no batch.
type step struct {
	at   time.Time
	keys []int64
}

// procScriptConnector is the 'proc-script' connector: a source of (k BIGINT)
// rows played from steps. Before each step it waits until synced says the
// rows it emitted so far have reached the windows (in another task at
// parallelism > 1), so that the clock moves in step with them. After the
// last step it idles (no rows) until done() holds, then ends; ended is
// set when it returned io.EOF.
type procScriptConnector struct {
	clock  *stepClock
	steps  []step
	synced func(rows int64) bool
	done   func() bool
	ended  *atomic.Bool
}

func (procScriptConnector) Name() string                 { return "proc-script" }
func (procScriptConnector) Options() []connectors.Option { return nil }
func (procScriptConnector) Validate(_ map[string]string, schema types.Schema, sink bool) error {
	if sink || schema.Len() != 1 || schema.Fields[0].Type.Kind != types.BigInt {
		return &connectors.OptionError{Msg: "connector 'proc-script' is a source of (k BIGINT)"}
	}
	return nil
}
func (c procScriptConnector) NewSource(cfg exec.SourceConfig) (exec.Source, error) {
	return &procScriptSource{c: c, cfg: cfg}, nil
}
func (procScriptConnector) NewSink(exec.SinkConfig) (exec.Sink, error) {
	return nil, errors.New("connector 'proc-script' can only be used as a source")
}

type procScriptSource struct {
	c        procScriptConnector
	cfg      exec.SourceConfig
	next     int
	rows     int64
	deadline time.Time // real time: give up waiting
}

// StatefulOffsets implements exec.StatefulOffsets: it keeps the runtime
// from reading ahead, which would move the clock before the rows of the
// batch before have been processed.
func (s *procScriptSource) StatefulOffsets() bool { return true }

func (s *procScriptSource) Open(context.Context, map[string][]byte) error { return nil }

func (s *procScriptSource) Read(context.Context) (arrow.Record, int, error) {
	if s.deadline.IsZero() {
		s.deadline = time.Now().Add(20 * time.Second)
	}
	if s.next < len(s.c.steps) {
		if !s.c.synced(s.rows) && time.Now().Before(s.deadline) {
			time.Sleep(time.Millisecond)
			return nil, 0, nil
		}
		st := s.c.steps[s.next]
		s.next++
		s.c.clock.set(st.at)
		if len(st.keys) == 0 {
			return nil, 0, nil
		}
		b := array.NewRecordBuilder(s.cfg.Alloc, s.cfg.Schema.Arrow())
		defer b.Release()
		for _, k := range st.keys {
			b.Field(0).(*array.Int64Builder).Append(k)
		}
		s.rows += int64(len(st.keys))
		return b.NewRecord(), 0, nil
	}
	if s.c.done() || time.Now().After(s.deadline) {
		s.c.ended.Store(true)
		return nil, 0, io.EOF
	}
	time.Sleep(time.Millisecond) // idle: let the runtime look at its timers
	return nil, 0, nil
}

func (s *procScriptSource) Offsets(fn func(string, []byte) error) error {
	return fn("0", []byte{byte(s.next)})
}

func (s *procScriptSource) Close() error { return nil }

// runScripted runs query over table t (k BIGINT, proc AS PROCTIME()) fed
// by steps, ending once want rows came, and returns the rows and how many
// of them came before the source ended.
func runScripted(t *testing.T, parallelism int, steps []step, query string, want int) (rows []string, beforeEnd int) {
	t.Helper()
	clock := &stepClock{now: steps[0].at}
	var got atomic.Int64
	ended := &atomic.Bool{}
	reg := builtin.Registry(io.Discard)
	var q atomic.Pointer[engine.ContinuousQuery]
	synced := func(rows int64) bool {
		in, aggs := int64(0), false
		for _, op := range q.Load().Stats().Operators {
			if strings.HasSuffix(op.ID, "-window-agg") || strings.HasSuffix(op.ID, "-window-assign") {
				in, aggs = in+op.RecordsIn, true
			}
		}
		return !aggs || in >= rows
	}
	reg.Register(procScriptConnector{clock: clock, steps: steps, ended: ended, synced: synced, done: func() bool { return got.Load() >= int64(want) }})
	eng := engine.New(engine.Options{StateDir: t.TempDir(), CheckpointInterval: -1}, engine.WithRegistry(reg), engine.WithClock(clock))
	defer eng.Close(context.Background())
	ctx := context.Background()
	if _, err := eng.Exec(ctx, fmt.Sprintf(`SET 'parallelism.default' = '%d';
		CREATE TABLE t (k BIGINT, proc AS PROCTIME()) WITH ('connector' = 'proc-script')`, parallelism)); err != nil {
		t.Fatal(err)
	}
	res, err := eng.Exec(ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	q.Store(res[0].Result.Query)
	err = res[0].Result.Query.Run(ctx, func(rec arrow.Record) error {
		for r := 0; r < int(rec.NumRows()); r++ {
			var cells []string
			for c := 0; c < int(rec.NumCols()); c++ {
				v, ok := format.FormatValue(rec.Column(c), r)
				if !ok {
					v = "NULL"
				}
				cells = append(cells, v)
			}
			rows = append(rows, strings.Join(cells, ","))
			if !ended.Load() {
				beforeEnd++
			}
			got.Add(1)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(rows)
	return rows, beforeEnd
}

func at(s string) time.Time {
	ts, err := time.Parse("2006-01-02 15:04:05.000", s)
	if err != nil {
		panic(err)
	}
	return ts
}

func TestProcTimeWindows(t *testing.T) {
	steps := []step{
		{at: at("2024-01-01 00:00:00.100"), keys: []int64{1, 1, 2}},
		{at: at("2024-01-01 00:00:00.500"), keys: []int64{1}},
		{at: at("2024-01-01 00:00:01.200"), keys: []int64{2, 2, 2}},
		{at: at("2024-01-01 00:00:01.999"), keys: []int64{1}},
		{at: at("2024-01-01 00:00:09.000")}, // past every window's end: they fire on the clock
	}
	cases := []struct {
		name, query string
		want        []string
	}{
		{"tumble", `SELECT window_start, window_end, window_time, k, COUNT(*) AS n
			FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(proc), INTERVAL '1' SECOND))
			GROUP BY window_start, window_end, window_time, k`, []string{
			"2024-01-01 00:00:00.000,2024-01-01 00:00:01.000,2024-01-01 00:00:00.999,1,3",
			"2024-01-01 00:00:00.000,2024-01-01 00:00:01.000,2024-01-01 00:00:00.999,2,1",
			"2024-01-01 00:00:01.000,2024-01-01 00:00:02.000,2024-01-01 00:00:01.999,1,1",
			"2024-01-01 00:00:01.000,2024-01-01 00:00:02.000,2024-01-01 00:00:01.999,2,3",
		}},
		{"hop", `SELECT window_start, COUNT(*) AS n
			FROM TABLE(HOP(TABLE t, DESCRIPTOR(proc), INTERVAL '1' SECOND, INTERVAL '2' SECOND))
			GROUP BY window_start, window_end`, []string{
			"2023-12-31 23:59:59.000,4",
			"2024-01-01 00:00:00.000,8",
			"2024-01-01 00:00:01.000,4",
		}},
		{"session", `SELECT window_start, window_end, k, COUNT(*) AS n
			FROM TABLE(SESSION(TABLE t PARTITION BY k, DESCRIPTOR(proc), INTERVAL '600' MILLISECOND))
			GROUP BY window_start, window_end, k`, []string{
			"2024-01-01 00:00:00.100,2024-01-01 00:00:00.700,2,1",
			"2024-01-01 00:00:00.100,2024-01-01 00:00:01.100,1,3",
			"2024-01-01 00:00:01.200,2024-01-01 00:00:01.800,2,3",
			"2024-01-01 00:00:01.999,2024-01-01 00:00:02.599,1,1",
		}},
		{"legacy", `SELECT TUMBLE_START(proc, INTERVAL '1' SECOND) AS s, SUM(k) AS total
			FROM t GROUP BY TUMBLE(proc, INTERVAL '1' SECOND)`, []string{
			"2024-01-01 00:00:00.000,5",
			"2024-01-01 00:00:01.000,7",
		}},
	}
	for _, p := range []int{1, 2} {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/parallelism=%d", c.name, p), func(t *testing.T) {
				rows, before := runScripted(t, p, steps, c.query, len(c.want))
				checkRows(t, rows, c.want)
				if before != len(c.want) {
					t.Errorf("%d of %d rows came before the input ended: the windows must fire on the clock, not at the end", before, len(c.want))
				}
			})
		}
	}
}

// PROCTIME() in a select list is the clock's time when the batch is
// computed, a TIMESTAMP_LTZ(3).
func TestProcTimeSelect(t *testing.T) {
	steps := []step{
		{at: at("2024-01-01 00:00:00.100"), keys: []int64{1, 2}},
		{at: at("2024-01-01 00:00:03.250"), keys: []int64{3}},
	}
	rows, _ := runScripted(t, 1, steps, `SELECT k, proc, PROCTIME() AS now FROM t`, 3)
	checkRows(t, rows, []string{
		"1,2024-01-01 00:00:00.100,2024-01-01 00:00:00.100",
		"2,2024-01-01 00:00:00.100,2024-01-01 00:00:00.100",
		"3,2024-01-01 00:00:03.250,2024-01-01 00:00:03.250",
	})
}
