package jdbc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/decimal128"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/internal/pgtest"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// testSchema is the StreamSQL side of the tests' table t.
var testSchema = types.Schema{Fields: []types.Field{
	{Name: "k", Type: types.IntType},
	{Name: "name", Type: types.StringType},
	{Name: "amount", Type: types.DecimalType(10, 2)},
	{Name: "ts", Type: types.TimestampType},
}}

const createT = `CREATE TABLE t (k integer PRIMARY KEY, name text, amount numeric(10,2), ts timestamp)`

func tableOptions(srv *pgtest.Server, extra ...string) map[string]string {
	o := map[string]string{"connector": Name, "url": srv.JDBCURL("postgres"), "table-name": "t"}
	for i := 0; i+1 < len(extra); i += 2 {
		o[extra[i]] = extra[i+1]
	}
	return o
}

// record builds a batch of testSchema's rows (k, name, amount as text,
// ts ms); kinds, when not nil, gives each row's kind.
func record(t testing.TB, rows [][]any, kinds []types.RowKind) arrow.Record {
	t.Helper()
	sch := testSchema.Arrow()
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	for _, r := range rows {
		b.Field(0).(*array.Int32Builder).Append(int32(r[0].(int)))
		if r[1] == nil {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.StringBuilder).Append(r[1].(string))
		}
		n, err := decimal128.FromString(r[2].(string), 10, 2)
		if err != nil {
			t.Fatal(err)
		}
		b.Field(2).(*array.Decimal128Builder).Append(n)
		b.Field(3).(*array.TimestampBuilder).Append(arrow.Timestamp(r[3].(int)))
	}
	rec := b.NewRecord()
	if kinds == nil {
		return rec
	}
	kb := array.NewInt8Builder(memory.DefaultAllocator)
	defer kb.Release()
	for _, k := range kinds {
		kb.Append(int8(k))
	}
	ka := kb.NewInt8Array()
	defer ka.Release()
	defer rec.Release()
	return exec.WithRowKinds(rec, ka)
}

func newTestSink(t *testing.T, opts map[string]string) *sink {
	t.Helper()
	s, err := newSink(exec.SinkConfig{Table: "t", Schema: testSchema, Options: opts, JobName: "job"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func write(t *testing.T, s *sink, rows [][]any, kinds []types.RowKind) {
	t.Helper()
	rec := record(t, rows, kinds)
	defer rec.Release()
	if err := s.Write(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
}

func rowsOf(t *testing.T, srv *pgtest.Server) string {
	t.Helper()
	return strings.Join(srv.Rows(t, "SELECT k, name, amount, ts FROM t ORDER BY k"), "; ")
}

// TestValidate: the plan-time checks against the database's catalog.
func TestValidate(t *testing.T) {
	srv := pgtest.Start(t)
	srv.Exec(t, createT+`; CREATE TABLE nokey (k integer, name text, amount numeric(10,2), ts timestamp);
		CREATE TABLE req (k integer, name text, amount numeric(10,2), ts timestamp, must text NOT NULL)`)
	pk := plan.PrimaryKeyOption
	for _, tc := range []struct {
		name   string
		opts   map[string]string
		schema types.Schema
		sink   bool
		want   string // "" for no error
	}{
		{"ok sink", tableOptions(srv, pk, "k"), testSchema, true, ""},
		{"ok source", tableOptions(srv), testSchema, false, ""},
		{"missing table", tableOptions(srv, "table-name", "nope"), testSchema, true,
			`option "table-name": the database has no table "nope"`},
		{"missing column", tableOptions(srv), types.Schema{Fields: []types.Field{{Name: "k", Type: types.IntType}, {Name: "price", Type: types.DoubleType}}}, true,
			`column "price": table t of the database has no column "price" (it has k, name, amount, ts)`},
		{"type mismatch", tableOptions(srv), types.Schema{Fields: []types.Field{{Name: "name", Type: types.BigIntType}}}, true,
			`column "name": the database column t.name is text, which cannot hold the values of BIGINT (use bigint)`},
		{"narrow decimal", tableOptions(srv), types.Schema{Fields: []types.Field{{Name: "amount", Type: types.DecimalType(12, 2)}}}, true,
			`column "amount": the database column t.amount is numeric(10,2), which cannot hold the values of DECIMAL(12, 2) (use numeric(12,2))`},
		{"source narrower", tableOptions(srv), types.Schema{Fields: []types.Field{{Name: "k", Type: types.FloatType}}}, false,
			`column "k": the database column t.k is integer, which holds values that do not fit FLOAT (use real)`},
		{"no unique index", tableOptions(srv, "table-name", "nokey", pk, "k"), testSchema, true,
			`option "table-name": PRIMARY KEY (k): the database table nokey has no primary key or unique index on exactly these columns, which upserts (INSERT … ON CONFLICT) need`},
		{"not null unwritten", tableOptions(srv, "table-name", "req"), testSchema, true,
			`option "table-name": the database column req.must is NOT NULL without a default, and the table does not write it: add the column`},
		{"password in url", tableOptions(srv, "url", "postgres://u:secret@127.0.0.1:1/db"), testSchema, true,
			`option "url": holds a password, and the url is shown in EXPLAIN and SHOW CREATE TABLE: give it in 'password' or 'password.env'`},
		{"password env unset", tableOptions(srv, "password.env", "STREAMSQL_NO_SUCH_VAR"), testSchema, true,
			`option "password.env": environment variable "STREAMSQL_NO_SUCH_VAR" is not set`},
		{"other database", tableOptions(srv, "url", "jdbc:mysql://127.0.0.1:3306/db"), testSchema, true,
			`option "url": only PostgreSQL is supported: expected jdbc:postgresql://host:port/database, got "jdbc:mysql://127.0.0.1:3306/db"`},
		{"bad guarantee", tableOptions(srv, "sink.delivery-guarantee", "twice"), testSchema, true,
			`option "sink.delivery-guarantee": expected exactly-once, at-least-once or none, got "twice"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := factory{}.Validate(tc.opts, tc.schema, tc.sink)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		o := tableOptions(srv, "url", "postgres://127.0.0.1:1/db", "connection.max-retry-timeout", "200 ms")
		err := factory{}.Validate(o, testSchema, true)
		var oe *connectors.OptionError
		if !errors.As(err, &oe) || oe.Key != "url" || !strings.Contains(err.Error(), "cannot connect to postgres://127.0.0.1:1/db") {
			t.Fatalf("got %v", err)
		}
	})
}

// TestValidateNoTwoPhase: exactly-once against a server without prepared
// transactions is a planning error that offers at-least-once.
func TestValidateNoTwoPhase(t *testing.T) {
	srv := pgtest.StartWith(t, pgtest.Options{MaxPreparedTransactions: -1})
	srv.Exec(t, createT)
	err := factory{}.Validate(tableOptions(srv, "sink.delivery-guarantee", "exactly-once", plan.PrimaryKeyOption, "k"), testSchema, true)
	want := `option "sink.delivery-guarantee": exactly-once needs two-phase commit, and the server has max_prepared_transactions = 0: set it above 0 in postgresql.conf (and restart the server), or use 'sink.delivery-guarantee' = 'at-least-once' (upserts by the PRIMARY KEY are idempotent: a replay rewrites the same rows)`
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
}

// TestSinkAppendAndUpsert: without a key rows are inserted; with one the
// changes of a key collapse to its last, -U/+U pairs update, a lone -U
// and -D delete.
func TestSinkAppendAndUpsert(t *testing.T) {
	srv := pgtest.Start(t)
	srv.Exec(t, `CREATE TABLE t (k integer, name text, amount numeric(10,2), ts timestamp)`)
	ctx := context.Background()
	s := newTestSink(t, tableOptions(srv))
	if err := s.Open(ctx, nil); err != nil {
		t.Fatal(err)
	}
	write(t, s, [][]any{{1, "a", "1.50", 0}, {1, nil, "-2.25", 1500}}, nil)
	if _, err := s.PreCommit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if got, want := rowsOf(t, srv), "1,a,1.50,1970-01-01 00:00:00; 1,NULL,-2.25,1970-01-01 00:00:01.5"; got != want {
		t.Fatalf("append: got %q, want %q", got, want)
	}

	srv.Exec(t, "DROP TABLE t; "+createT)
	u := newTestSink(t, tableOptions(srv, plan.PrimaryKeyOption, "k", "sink.buffer-flush.max-rows", "0"))
	if err := u.Open(ctx, nil); err != nil {
		t.Fatal(err)
	}
	I, UB, UA, D := types.Insert, types.UpdateBefore, types.UpdateAfter, types.Delete
	write(t, u, [][]any{{1, "a", "1", 0}, {2, "b", "2", 0}, {3, "c", "3", 0}}, []types.RowKind{I, I, I})
	if _, err := u.PreCommit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	write(t, u, [][]any{{1, "a", "1", 0}, {1, "a2", "10", 0}, {2, "b", "2", 0}, {3, "c", "3", 0}, {4, "d", "4", 0}, {4, "d", "4", 0}, {4, "d2", "5", 0}},
		[]types.RowKind{UB, UA, D, UB, I, UB, UA})
	if _, err := u.PreCommit(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if got, want := rowsOf(t, srv), "1,a2,10.00,1970-01-01 00:00:00; 4,d2,5.00,1970-01-01 00:00:00"; got != want {
		t.Fatalf("upsert: got %q, want %q", got, want)
	}
	// The second flush: the upsert of 1, the DELETE of 2 and 3, the
	// upsert of 4 (runs in the order of the keys' first change).
	if u.statements != 4 {
		t.Fatalf("statements: %d, want 4", u.statements)
	}
}

// TestSinkExactlyOnce: rows are visible only once their checkpoint's
// prepared transaction is committed; a restored sink commits the one its
// handle names and rolls back the one prepared after it.
func TestSinkExactlyOnce(t *testing.T) {
	srv := pgtest.Start(t)
	srv.Exec(t, createT)
	ctx := context.Background()
	opts := tableOptions(srv, plan.PrimaryKeyOption, "k", "sink.delivery-guarantee", "exactly-once", "sink.buffer-flush.max-rows", "1")
	prepared := func() string {
		return strings.Join(srv.Rows(t, "SELECT count(*) FROM pg_prepared_xacts"), "")
	}
	s := newTestSink(t, opts)
	if err := s.Open(ctx, nil); err != nil {
		t.Fatal(err)
	}
	write(t, s, [][]any{{1, "a", "1", 0}, {2, "b", "2", 0}}, nil)
	h1, err := s.PreCommit(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := rowsOf(t, srv); got != "" {
		t.Fatalf("visible before commit: %q", got)
	}
	if got := prepared(); got != "1" {
		t.Fatalf("prepared transactions: %s, want 1", got)
	}
	if err := s.Commit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if got, want := rowsOf(t, srv), "1,a,1.00,1970-01-01 00:00:00; 2,b,2.00,1970-01-01 00:00:00"; got != want {
		t.Fatalf("after commit: got %q, want %q", got, want)
	}
	_ = h1
	// Checkpoint 2 is prepared, durable, but the process dies before
	// committing; checkpoint 3 is prepared and never completes.
	write(t, s, [][]any{{3, "c", "3", 0}}, nil)
	h2, err := s.PreCommit(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	write(t, s, [][]any{{4, "d", "4", 0}}, nil)
	if _, err := s.PreCommit(ctx, 3); err != nil {
		t.Fatal(err)
	}
	write(t, s, [][]any{{5, "e", "5", 0}}, nil) // in an open transaction
	_ = s.Close()
	if got := prepared(); got != "2" {
		t.Fatalf("prepared transactions after the crash: %s, want 2", got)
	}
	desc, err := factory{}.DescribeHandle(h2)
	if err != nil || !strings.HasPrefix(desc, "prepared transaction streamsql:job:t:") || !strings.HasSuffix(desc, "(checkpoint 2)") {
		t.Fatalf("DescribeHandle: %q, %v", desc, err)
	}
	r := newTestSink(t, opts)
	if err := r.Open(ctx, h2); err != nil {
		t.Fatal(err)
	}
	if got, want := rowsOf(t, srv), "1,a,1.00,1970-01-01 00:00:00; 2,b,2.00,1970-01-01 00:00:00; 3,c,3.00,1970-01-01 00:00:00"; got != want {
		t.Fatalf("after restore: got %q, want %q", got, want)
	}
	if got := prepared(); got != "0" {
		t.Fatalf("prepared transactions after restore: %s, want 0", got)
	}
	// An empty checkpoint prepares nothing.
	if _, err := r.PreCommit(ctx, 4); err != nil {
		t.Fatal(err)
	}
	if got := prepared(); got != "0" {
		t.Fatalf("an empty checkpoint prepared a transaction")
	}
}

// TestSinkTerminatedBackend: the sink's connection is terminated in the
// middle of a transaction, and the server restarts between two
// checkpoints: the sink reconnects, replays the transaction's rows, and
// loses none.
func TestSinkTerminatedBackend(t *testing.T) {
	srv := pgtest.Start(t)
	srv.Exec(t, createT)
	ctx := context.Background()
	opts := tableOptions(srv, plan.PrimaryKeyOption, "k", "sink.delivery-guarantee", "exactly-once", "sink.buffer-flush.max-rows", "2")
	s := newTestSink(t, opts)
	if err := s.Open(ctx, nil); err != nil {
		t.Fatal(err)
	}
	write(t, s, [][]any{{1, "a", "1", 0}, {2, "b", "2", 0}}, nil) // flushed into the transaction
	srv.Exec(t, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state = 'idle in transaction'")
	write(t, s, [][]any{{3, "c", "3", 0}, {4, "d", "4", 0}}, nil)
	if _, err := s.PreCommit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	write(t, s, [][]any{{5, "e", "5", 0}, {6, "f", "6", 0}}, nil)
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	write(t, s, [][]any{{7, "g", "7", 0}}, nil)
	if _, err := s.PreCommit(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, 2); err != nil {
		t.Fatal(err)
	}
	var want []string
	for k := 1; k <= 7; k++ {
		want = append(want, fmt.Sprintf("%d,%c,%d.00,1970-01-01 00:00:00", k, 'a'+k-1, k))
	}
	if got := rowsOf(t, srv); got != strings.Join(want, "; ") {
		t.Fatalf("got %q\nwant %q", got, strings.Join(want, "; "))
	}
}

// TestSource: a bounded scan in one snapshot, resumable from its offset.
func TestSource(t *testing.T) {
	srv := pgtest.Start(t)
	srv.Exec(t, createT+`; INSERT INTO t SELECT g, 'n' || g, g / 4.0, timestamp '2026-01-01' + g * interval '1 second' FROM generate_series(1, 10) g;
		INSERT INTO t VALUES (11, NULL, NULL, NULL)`)
	ctx := context.Background()
	read := func(offsets map[string][]byte) ([]string, map[string][]byte) {
		src, err := newSource(exec.SourceConfig{Table: "t", Schema: testSchema, Options: tableOptions(srv, "scan.fetch-size", "4")})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		if err := src.Open(ctx, offsets); err != nil {
			t.Fatal(err)
		}
		var out []string
		var off map[string][]byte
		for {
			rec, _, err := src.Read(ctx)
			if err == io.EOF {
				return out, off
			}
			if err != nil {
				t.Fatal(err)
			}
			for r := 0; r < int(rec.NumRows()); r++ {
				var cols []string
				for c := 0; c < int(rec.NumCols()); c++ {
					cols = append(cols, rec.Column(c).ValueStr(r))
				}
				out = append(out, strings.Join(cols, ","))
			}
			rec.Release()
			if off == nil {
				off, err = exec.SourceOffsets(src)
				if err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	all, first := read(nil)
	if len(all) != 11 || all[0] != "1,n1,0.25,2026-01-01 00:00:01Z" || all[10] != "11,(null),(null),(null)" {
		t.Fatalf("scan: %q", all)
	}
	rest, _ := read(first)
	if strings.Join(rest, ";") != strings.Join(all[4:], ";") {
		t.Fatalf("restored scan: %q, want %q", rest, all[4:])
	}
}

// countingClock is a settable clock.
type countingClock struct{ now time.Time }

func (c *countingClock) Now() time.Time { return c.now }

// TestLookupCache: the jdbc lookup answers keys with their rows, and the
// cache in front of it sends a query only for keys it misses or whose
// entry expired, counted by the source.
func TestLookupCache(t *testing.T) {
	srv := pgtest.Start(t)
	srv.Exec(t, createT+`; INSERT INTO t VALUES (1, 'a', 1, NULL), (2, 'b', 2, NULL), (3, 'c', 3, NULL)`)
	ctx := context.Background()
	clock := &countingClock{now: time.Unix(1000, 0)}
	cfg := connectors.LookupConfig{Table: "t", Schema: testSchema, KeyColumns: []int{0}, Clock: clock,
		Options: tableOptions(srv, "lookup.cache.max-rows", "2", "lookup.cache.ttl", "10 s")}
	src, err := newLookupSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cache := connectors.NewLookupCache(src, src.c.cacheRows, src.c.cacheTTL, src.c.cacheMissing, clock)
	defer cache.Close()
	look := func(keys ...int32) string {
		var ks [][]any
		for _, k := range keys {
			ks = append(ks, []any{k})
		}
		got, err := cache.Lookup(ctx, ks)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, rows := range got {
			var names []string
			for _, r := range rows {
				names = append(names, r[1].(string))
			}
			out = append(out, strings.Join(names, "|"))
		}
		return strings.Join(out, ",")
	}
	steps := []struct {
		keys    []int32
		want    string
		queries int64
	}{
		{[]int32{1, 2, 1}, "a,b,a", 1},
		{[]int32{1, 2}, "a,b", 1},      // both cached
		{[]int32{9}, "", 2},            // a missing key: cached too, evicting 1 (LRU of 2)
		{[]int32{9, 2}, ",b", 2},       // cached
		{[]int32{1}, "a", 3},           // evicted: asked again
		{[]int32{3, 3, 1}, "c,c,a", 4}, // 3 missed once
	}
	for i, st := range steps {
		if got := look(st.keys...); got != st.want {
			t.Fatalf("step %d: got %q, want %q", i, got, st.want)
		}
		if q := src.queries.Load(); q != st.queries {
			t.Fatalf("step %d: %d queries, want %d", i, q, st.queries)
		}
	}
	clock.now = clock.now.Add(11 * time.Second) // every entry expired
	if got := look(1, 3); got != "a,c" || src.queries.Load() != 5 {
		t.Fatalf("after the ttl: %q, %d queries", got, src.queries.Load())
	}
	// A restarted server: the lookup reconnects (lookup.max-retries).
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if got := look(2); got != "b" {
		t.Fatalf("after a restart: %q", got)
	}
}

// TestSinkRollbackRefused: a restored exactly-once sink whose database
// holds the output of a newer checkpoint than the one restored (the job's
// state was lost or replaced by an older copy) refuses to open, fresh
// or from the older checkpoint, unless the run accepts the rollback; an
// empty checkpoint records nothing, and a failed checkpoint's prepared
// transaction does not block the next one's record.
func TestSinkRollbackRefused(t *testing.T) {
	srv := pgtest.Start(t)
	srv.Exec(t, createT)
	ctx := context.Background()
	opts := tableOptions(srv, plan.PrimaryKeyOption, "k", "sink.delivery-guarantee", "exactly-once")
	s := newTestSink(t, opts)
	if err := s.Open(ctx, nil); err != nil {
		t.Fatal(err)
	}
	write(t, s, [][]any{{1, "a", "1", 0}}, nil)
	h1, err := s.PreCommit(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// Checkpoint 2 fails after its prepare: its transaction stays
	// prepared, and checkpoint 3 records and commits both.
	write(t, s, [][]any{{2, "b", "2", 0}}, nil)
	if _, err := s.PreCommit(ctx, 2); err != nil {
		t.Fatal(err)
	}
	write(t, s, [][]any{{3, "c", "3", 0}}, nil)
	h3, err := s.PreCommit(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, 3); err != nil {
		t.Fatal(err)
	}
	h4, err := s.PreCommit(ctx, 4) // empty: records nothing
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	if got := strings.Join(srv.Rows(t, "SELECT checkpoint FROM streamsql_checkpoints ORDER BY 1"), ","); got != "3" {
		t.Fatalf("records after checkpoint 3 committed: %q, want 3 (older ones trimmed)", got)
	}

	for _, tc := range []struct {
		name string
		h    []byte
	}{{"fresh", nil}, {"checkpoint 1", h1}} {
		r := newTestSink(t, opts)
		err := r.Open(ctx, tc.h)
		if err == nil || !strings.Contains(err.Error(), "committed the output of checkpoint 3") || !strings.Contains(err.Error(), "--allow-rollback") {
			t.Fatalf("%s: Open = %v, want a refused rollback", tc.name, err)
		}
		_ = r.Close()
	}
	// The same job and table pointed at another database table starts
	// clean.
	srv.Exec(t, strings.Replace(createT, "TABLE t ", "TABLE t2 ", 1))
	other := newTestSink(t, tableOptions(srv, plan.PrimaryKeyOption, "k", "sink.delivery-guarantee", "exactly-once", "table-name", "t2"))
	if err := other.Open(ctx, nil); err != nil {
		t.Fatalf("another database table: %v", err)
	}
	_ = other.Close()
	for _, h := range [][]byte{h3, h4} {
		r := newTestSink(t, opts)
		if err := r.Open(ctx, h); err != nil {
			t.Fatalf("restoring the newest checkpoint: %v", err)
		}
		_ = r.Close()
	}
	if got, want := rowsOf(t, srv), "1,a,1.00,1970-01-01 00:00:00; 2,b,2.00,1970-01-01 00:00:00; 3,c,3.00,1970-01-01 00:00:00"; got != want {
		t.Fatalf("rows: got %q, want %q", got, want)
	}

	// Accepted: the run restores checkpoint 1, and its own checkpoint 2
	// is recorded again.
	r, err := newSink(exec.SinkConfig{Table: "t", Schema: testSchema, Options: opts, JobName: "job", AllowRollback: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Open(ctx, h1); err != nil {
		t.Fatalf("accepted rollback: %v", err)
	}
	write(t, r, [][]any{{2, "b2", "2", 0}}, nil)
	if _, err := r.PreCommit(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := r.Commit(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(srv.Rows(t, "SELECT checkpoint FROM streamsql_checkpoints ORDER BY 1"), ","); got != "2" {
		t.Fatalf("records after the accepted rollback: %q, want 2", got)
	}
}
