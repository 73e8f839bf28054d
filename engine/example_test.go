package engine_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/connectors/builtin"
	"github.com/streamsql/streamsql/engine"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

// execSQL executes every statement of sql and returns the last result.
func execSQL(eng *engine.Engine, sql string) (*engine.Result, error) {
	stmts, err := engine.Parse("example.sql", sql)
	if err != nil {
		return nil, err
	}
	var res *engine.Result
	for _, st := range stmts {
		if res, err = eng.Execute(context.Background(), st); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// printText prints the rows of a query's Arrow batches as they come, in
// their SQL text form, NULL as "NULL".
func printText(q *engine.ContinuousQuery) error {
	it := q.Results(context.Background())
	defer it.Close()
	fmt.Println(strings.Join(it.Schema().Names(), " | "))
	for it.Next() {
		for _, row := range engine.Rows(it.Record()) {
			vals := make([]string, len(row))
			for i, v := range row {
				vals[i] = "NULL"
				if v != nil {
					vals[i] = *v
				}
			}
			fmt.Println(strings.Join(vals, " | "))
		}
	}
	return it.Err()
}

// Run a script in one call, then read the SELECT's rows as Go values. An
// INSERT in the script would start a background job instead.
func ExampleEngine_Exec() {
	dir, _ := os.MkdirTemp("", "streamsql-example")
	defer os.RemoveAll(dir)
	eng := engine.New(engine.Options{StateDir: dir, CheckpointInterval: -1})
	defer eng.Close(context.Background())
	results, err := eng.Exec(context.Background(), `
		CREATE TABLE orders (id BIGINT, amount DECIMAL(10, 2), ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
		WITH ('connector' = 'datagen', 'number-of-rows' = '3', 'fields.id.kind' = 'sequence',
		      'fields.id.start' = '1', 'fields.id.end' = '3', 'fields.ts.step' = '1 s');
		SELECT id, CAST(id AS DECIMAL(10, 2)) * 0.25 AS quarter, ts FROM orders;`)
	if err != nil {
		fmt.Println(err)
		return
	}
	q := results[len(results)-1].Result.Query
	for row, err := range q.Rows(context.Background()) {
		if err != nil {
			fmt.Println(err)
			return
		}
		id := row.Values[0].(int64)
		quarter := row.Values[1].(engine.Decimal) // exact
		ts := row.Values[2].(time.Time)
		fmt.Println(row.Kind, id, quarter, ts.Format(time.TimeOnly))
	}
	// Output:
	// +I 1 0.2500 00:00:00
	// +I 2 0.5000 00:00:01
	// +I 3 0.7500 00:00:02
}

// Run a bounded windowed SELECT over generated rows and print its rows as
// the windows close. With a bounded source the query ends by itself.
func ExampleContinuousQuery_Results() {
	dir, _ := os.MkdirTemp("", "streamsql-example")
	defer os.RemoveAll(dir)
	eng := engine.New(engine.Options{StateDir: dir, CheckpointInterval: -1})
	res, err := execSQL(eng, `
		CREATE TABLE clicks (user_id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
		WITH ('connector' = 'datagen', 'number-of-rows' = '3000', 'rows-per-second' = 'unlimited',
		      'fields.user_id.min' = '1', 'fields.user_id.max' = '1', 'fields.ts.step' = '1 ms');
		SELECT window_start, window_end, COUNT(*) AS clicks, SUM(user_id) AS total
		FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' SECOND))
		GROUP BY window_start, window_end;`)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := printText(res.Query); err != nil {
		fmt.Println(err)
	}
	// Output:
	// window_start | window_end | clicks | total
	// 2024-01-01 00:00:00.000 | 2024-01-01 00:00:01.000 | 1000 | 1000
	// 2024-01-01 00:00:01.000 | 2024-01-01 00:00:02.000 | 1000 | 1000
	// 2024-01-01 00:00:02.000 | 2024-01-01 00:00:03.000 | 1000 | 1000
}

// Submit an INSERT as a background job, wait for its first checkpoint,
// then stop it with a savepoint: a later run restores it with
// Options.FromSavepoint (or SET 'execution.savepoint.path').
func ExampleEngine_Submit() {
	dir, _ := os.MkdirTemp("", "streamsql-example")
	defer os.RemoveAll(dir)
	eng := engine.New(engine.Options{StateDir: dir, CheckpointInterval: 50 * time.Millisecond})
	res, err := execSQL(eng, `
		SET 'pipeline.name' = 'clicks-per-second';
		CREATE TABLE clicks (user_id BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
		WITH ('connector' = 'datagen', 'rows-per-second' = '1000', 'fields.user_id.max' = '9', 'fields.user_id.min' = '0');
		CREATE TABLE counts (user_id BIGINT, n BIGINT) WITH ('connector' = 'blackhole');
		INSERT INTO counts SELECT user_id, COUNT(*) FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR(ts), INTERVAL '1' SECOND))
		GROUP BY window_start, window_end, user_id;`)
	if err != nil {
		fmt.Println(err)
		return
	}
	job, err := eng.Submit(res.Query, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for job.Stats().LastCheckpoint == nil {
		time.Sleep(10 * time.Millisecond)
	}
	sp, err := job.Stop(context.Background(), engine.SavepointDir(dir, job.ID(), "example"))
	if err != nil {
		fmt.Println(err)
		return
	}
	_, statErr := os.Stat(sp.Info.Path)
	fmt.Println(job.ID(), job.Status(), "savepoint written:", statErr == nil)
	// Output:
	// clicks-per-second STOPPED savepoint written: true
}

// A custom connector: register it in a registry that also holds the
// built-in ones, and give the registry to the engine with WithRegistry.
// The counter source below keeps its position as an offset, so a job
// restored from a checkpoint resumes exactly after the last row the
// checkpoint covered (the exec.Source contract).
func ExampleWithRegistry() {
	reg := builtin.Registry(os.Stdout)
	reg.Register(counterConnector{})

	dir, _ := os.MkdirTemp("", "streamsql-example")
	defer os.RemoveAll(dir)
	eng := engine.New(engine.Options{StateDir: dir, CheckpointInterval: -1}, engine.WithRegistry(reg))
	defer eng.Close(context.Background())
	results, err := eng.Exec(context.Background(), `
		CREATE TABLE numbers (n BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts)
		WITH ('connector' = 'counter', 'count' = '12');
		SELECT window_start, COUNT(*) AS rows_in_window, SUM(n) AS total
		FROM TABLE(TUMBLE(TABLE numbers, DESCRIPTOR(ts), INTERVAL '5' SECOND))
		GROUP BY window_start, window_end;`)
	if err != nil {
		fmt.Println(err)
		return
	}
	for row, err := range results[1].Result.Query.Rows(context.Background()) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(row)
	}
	// Output:
	// +I[2024-01-01 00:00:00.000, 5, 10]
	// +I[2024-01-01 00:00:05.000, 5, 35]
	// +I[2024-01-01 00:00:10.000, 2, 21]
}

// counterConnector is the 'counter' connector: a bounded source of the
// rows (n, ts) = (i, 2024-01-01 00:00:00 + i seconds) for i in [0, count).
type counterConnector struct{}

var _ connectors.Factory = counterConnector{}

func (counterConnector) Name() string { return "counter" }

func (counterConnector) Options() []connectors.Option {
	return []connectors.Option{{Key: "count", Required: true, Source: true, Help: "how many rows to produce"}}
}

func (counterConnector) Validate(opts map[string]string, schema types.Schema, sink bool) error {
	if sink {
		return &connectors.OptionError{Key: "connector", Msg: "connector 'counter' can only be used as a source"}
	}
	if n, err := strconv.ParseInt(opts["count"], 10, 64); err != nil || n < 0 {
		return &connectors.OptionError{Key: "count", Msg: fmt.Sprintf("expected a non-negative integer, got %q", opts["count"])}
	}
	if len(schema.Fields) != 2 || schema.Fields[0].Type.Kind != types.BigInt || schema.Fields[1].Type.Kind != types.Timestamp {
		return &connectors.OptionError{Msg: "connector 'counter' produces (BIGINT, TIMESTAMP(3)) rows"}
	}
	return nil
}

func (counterConnector) NewSource(cfg exec.SourceConfig) (exec.Source, error) {
	n, _ := strconv.ParseInt(cfg.Options["count"], 10, 64)
	return &counterSource{cfg: cfg, count: n}, nil
}

func (counterConnector) NewSink(exec.SinkConfig) (exec.Sink, error) {
	return nil, errors.New("connector 'counter' can only be used as a source")
}

// counterSource produces its rows in batches; its offset, of its one
// split "0", is the next i.
type counterSource struct {
	cfg   exec.SourceConfig
	count int64
	next  int64
	buf   [8]byte
}

var _ exec.Source = (*counterSource)(nil)

// epoch is 2024-01-01 00:00:00 UTC in milliseconds.
const epoch = 1704067200000

// Open resumes after the checkpointed offset, or starts at 0.
func (s *counterSource) Open(_ context.Context, offsets map[string][]byte) error {
	offset, ok := offsets["0"]
	if !ok {
		return nil
	}
	if len(offset) != 8 {
		return fmt.Errorf("counter: invalid offset %x", offset)
	}
	s.next = int64(binary.BigEndian.Uint64(offset))
	return nil
}

func (s *counterSource) Read(ctx context.Context) (arrow.Record, int, error) {
	if s.next >= s.count {
		return nil, 0, io.EOF
	}
	n := min(int64(max(s.cfg.BatchSize, 1)), s.count-s.next, 5)
	b := array.NewRecordBuilder(s.cfg.Alloc, s.cfg.Schema.Arrow())
	defer b.Release()
	for i := s.next; i < s.next+n; i++ {
		b.Field(0).(*array.Int64Builder).Append(i)
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(epoch + i*1000))
	}
	s.next += n
	s.cfg.Metrics.Records.Add(n)
	return b.NewRecord(), 0, nil
}

// Offsets reports the next row to produce: exactly the position after the
// last batch Read returned.
func (s *counterSource) Offsets(fn func(split string, offset []byte) error) error {
	return fn("0", binary.BigEndian.AppendUint64(s.buf[:0], uint64(s.next)))
}

func (s *counterSource) Close() error { return nil }
