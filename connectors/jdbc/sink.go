package jdbc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/jackc/pgx/v5"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

// maxParams is PostgreSQL's limit of parameters per statement.
const maxParams = 65535

// writeMode is how a flush writes rows (see docs/benchmarks.md, "jdbc
// sink", for the measurements behind the defaults).
type writeMode uint8

const (
	// writeUnnest: one statement per run of inserts (or deletes) of any
	// length, each column an array parameter: INSERT … SELECT * FROM
	// unnest($1::int4[], …). One statement text per table, so the server
	// plans it once. The default: measured fastest for upserts and for
	// append-only tables (about 2× COPY at the default flush of 100 rows,
	// 1.2× at 8,192).
	writeUnnest writeMode = iota
	// writeCopy: COPY … FROM STDIN (binary), append-only tables only
	// (measured, not used by default).
	writeCopy
	// writeValues: multi-row INSERT … VALUES ($1, …), (…) statements of
	// up to 65,535 parameters (measured, not used by default: every row
	// count is a new statement for the server to parse and plan).
	writeValues
)

// op is one buffered change of the sink's table: a row to insert (or to
// upsert by the key) or, with del, a key to delete.
type op struct {
	del  bool
	vals []any // all columns; for a delete only the key's matter
}

// prepared is a transaction prepared at a checkpoint and not yet
// committed.
type prepared struct {
	GID        string `json:"gid"`
	Checkpoint int64  `json:"checkpoint"`
}

// handle is what the exactly-once sink stores in a checkpoint: the
// checkpoint's id (version 2 on; see rollback.go) and the prepared
// transactions the checkpoint covers (usually one; more when a checkpoint
// failed and the next one completed).
type handle struct {
	Version    int        `json:"v"`
	Checkpoint int64      `json:"checkpoint,omitempty"`
	Prepared   []prepared `json:"prepared"`
}

// sink writes rows into one table. Driven from one goroutine.
//
// Rows are buffered as ops; with a PRIMARY KEY the buffer holds one op
// per key, the last change (so a batch never names a key twice, as
// INSERT … ON CONFLICT DO UPDATE requires). A flush writes the buffer as
// multi-row statements in one round trip. With exactly-once every flush
// between two barriers goes into one transaction, prepared at the
// barrier; the flushed rounds are kept until then, so that a lost
// connection is survived by replaying them into a new transaction.
type sink struct {
	cfg    exec.SinkConfig
	c      *config
	log    *slog.Logger
	conn   *pgx.Conn // nil after a failure, until the next retry reconnects
	opened bool

	ident   string // quoted table name
	table   pgx.Identifier
	names   []string // the database's column names, in the schema's order
	cols    []string // the same, quoted
	keys    []int    // schema indexes of the PRIMARY KEY; nil: append-only INSERT
	upsert  string   // the ON CONFLICT clause
	insertQ string   // INSERT … SELECT * FROM unnest($1::type[], …) [ON CONFLICT …]
	deleteQ string   // DELETE … WHERE (key) IN (SELECT * FROM unnest(…))
	mode    writeMode

	ops    []op
	keyPos map[string]int // upsert: key → its op in ops
	kbuf   []byte

	inTxn     bool
	rounds    [][]op // exactly-once: flushed into the open transaction
	pending   []prepared
	gidPrefix string
	nonce     string
	lastFlush time.Time

	// Statements counts the statements written, for tests and benchmarks.
	statements int
}

var _ exec.Sink = (*sink)(nil)

func newSink(cfg exec.SinkConfig) (*sink, error) {
	c, err := parseConfig(cfg.Options, true)
	if err != nil {
		return nil, fmt.Errorf("jdbc: table %q: %w", cfg.Table, err)
	}
	if cfg.Clock == nil {
		cfg.Clock = exec.SystemClock{}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &sink{cfg: cfg, c: c, log: log.With("connector", Name, "table", cfg.Table)}
	for _, k := range c.primaryKey {
		i := cfg.Schema.Index(k)
		if i < 0 {
			return nil, fmt.Errorf("jdbc: table %q: PRIMARY KEY column %q is not a column", cfg.Table, k)
		}
		s.keys = append(s.keys, i)
	}
	if s.keys != nil {
		s.keyPos = map[string]int{}
	}
	s.gidPrefix = gidPrefix(s.job(), cfg.Table)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	s.nonce = hex.EncodeToString(b)
	return s, nil
}

// gidPrefix is the prefix of the prepared transactions' ids of one sink
// (subtask 0: sinks run as one subtask) of job: stable across runs, so
// that a restored job finds the transactions of the crashed one, and
// short enough for PostgreSQL's 200-byte limit.
func gidPrefix(job, table string) string {
	clean := func(s string, n int) string {
		var b strings.Builder
		for _, r := range s {
			if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
				b.WriteRune(r)
			} else {
				b.WriteByte('_')
			}
			if b.Len() >= n {
				break
			}
		}
		return b.String()
	}
	h := sha256.Sum256([]byte(job + "\x00" + table))
	return fmt.Sprintf("streamsql:%s:%s:%s:0:", clean(job, 60), clean(table, 40), hex.EncodeToString(h[:4]))
}

// Open implements exec.Sink. It connects and binds the columns; with
// exactly-once it refuses a rollback (see rollback.go), then commits the
// prepared transactions handle names that are still prepared and rolls
// back every other prepared transaction of this sink (written after the
// restored checkpoint by a run that crashed).
func (s *sink) Open(ctx context.Context, h []byte) error {
	if err := s.retry(ctx, "connect", func() error { return nil }); err != nil {
		return err
	}
	s.opened = true
	if s.c.guarantee != exactlyOnce {
		return nil
	}
	var hd handle
	if h != nil {
		if err := json.Unmarshal(h, &hd); err != nil {
			return fmt.Errorf("jdbc: table %q: invalid sink handle: %w", s.cfg.Table, err)
		}
	}
	keep := map[string]bool{}
	for _, p := range hd.Prepared {
		keep[p.GID] = true
	}
	// Before anything is committed or rolled back: a refused rollback
	// leaves the transactions as they are. A version 1 handle does not
	// know its checkpoint.
	err := s.retry(ctx, "check the restored checkpoint", func() error {
		if err := s.ensureRecordTable(ctx); err != nil {
			return err
		}
		if h == nil || hd.Checkpoint > 0 {
			return s.checkRollback(ctx, hd.Checkpoint)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.retry(ctx, "recover prepared transactions", func() error {
		gids, err := s.preparedGIDs(ctx)
		if err != nil {
			return err
		}
		for _, g := range gids {
			verb := "ROLLBACK"
			if keep[g] {
				verb = "COMMIT"
			}
			if _, err := s.conn.Exec(ctx, verb+" PREPARED "+quoteLiteral(g)); err != nil {
				return fmt.Errorf("%s PREPARED %s: %w", verb, g, err)
			}
			s.log.Info("recovered a prepared transaction", "gid", g, "action", strings.ToLower(verb))
		}
		return nil
	})
}

// preparedGIDs lists the prepared transactions of this sink in the
// connection's database.
func (s *sink) preparedGIDs(ctx context.Context) ([]string, error) {
	rows, err := s.conn.Query(ctx, "SELECT gid FROM pg_prepared_xacts WHERE database = current_database() AND starts_with(gid, $1) ORDER BY prepared", s.gidPrefix)
	if err != nil {
		return nil, fmt.Errorf("pg_prepared_xacts: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// dropConn closes the connection (after a failure): the server rolls
// back its open transaction.
func (s *sink) dropConn() {
	if s.conn != nil {
		_ = s.conn.Close(context.Background())
		s.conn = nil
	}
	s.inTxn = false
}

// reconnect (re)opens the connection and reads the table's columns.
func (s *sink) reconnect(ctx context.Context) error {
	s.dropConn()
	conn, err := connect(ctx, s.c)
	if err != nil {
		return err
	}
	t, err := describe(ctx, conn, s.c.table)
	if err == nil {
		var cols []pgColumn
		if cols, err = t.bind(s.c.table, s.cfg.Schema, true); err == nil {
			s.bind(t, cols)
		}
	}
	if err != nil {
		_ = conn.Close(context.Background())
		return err
	}
	s.conn = conn
	return nil
}

func (s *sink) bind(t *pgTable, cols []pgColumn) {
	s.ident = t.ident
	s.table = pgx.Identifier{t.schema, t.name}
	s.cols, s.names = s.cols[:0], s.names[:0]
	var arrays []string
	for i, c := range cols {
		s.names = append(s.names, c.name)
		s.cols = append(s.cols, pgx.Identifier{c.name}.Sanitize())
		arrays = append(arrays, fmt.Sprintf("$%d::%s[]", i+1, c.typ))
	}
	s.insertQ = "INSERT INTO " + s.ident + " (" + strings.Join(s.cols, ", ") + ") SELECT * FROM unnest(" + strings.Join(arrays, ", ") + ")"
	if s.keys == nil {
		return
	}
	var keyCols, keyArrays []string
	for i, k := range s.keys {
		keyCols = append(keyCols, s.cols[k])
		keyArrays = append(keyArrays, fmt.Sprintf("$%d::%s[]", i+1, cols[k].typ))
	}
	s.deleteQ = "DELETE FROM " + s.ident + " WHERE (" + strings.Join(keyCols, ", ") + ") IN (SELECT * FROM unnest(" + strings.Join(keyArrays, ", ") + "))"
	var target, set []string
	isKey := map[int]bool{}
	for _, k := range s.keys {
		target = append(target, s.cols[k])
		isKey[k] = true
	}
	for i, c := range s.cols {
		if !isKey[i] {
			set = append(set, c+" = EXCLUDED."+c)
		}
	}
	s.upsert = " ON CONFLICT (" + strings.Join(target, ", ") + ") DO NOTHING"
	if len(set) > 0 {
		s.upsert = " ON CONFLICT (" + strings.Join(target, ", ") + ") DO UPDATE SET " + strings.Join(set, ", ")
	}
	s.insertQ += s.upsert
}

// Write implements exec.Sink: it buffers the rows and flushes when the
// buffer is full or the flush interval has passed.
func (s *sink) Write(ctx context.Context, rec arrow.Record) error {
	if !s.opened {
		return errors.New("jdbc: sink not open")
	}
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	kinds := exec.RowKinds(rec)
	ncol := len(s.cfg.Schema.Fields)
	for r := 0; r < n; r++ {
		vals := make([]any, ncol)
		for i := 0; i < ncol; i++ {
			vals[i] = value(rec.Column(i), s.cfg.Schema.Fields[i].Type, r)
		}
		o := op{vals: vals}
		if kinds != nil {
			switch exec.RowKindAt(kinds, r) {
			case types.UpdateBefore, types.Delete:
				o.del = true
			}
		}
		if s.keys == nil {
			if o.del {
				return fmt.Errorf("jdbc: table %q: a retraction reached a table without PRIMARY KEY", s.cfg.Table)
			}
			s.ops = append(s.ops, o)
			continue
		}
		key, err := s.key(vals)
		if err != nil {
			return err
		}
		// The last change of a key wins: -U then +U of one key is its
		// new value, a lone -U (the key changed) or -D a delete.
		if i, ok := s.keyPos[key]; ok {
			s.ops[i] = o
			continue
		}
		s.keyPos[key] = len(s.ops)
		s.ops = append(s.ops, o)
	}
	if s.c.flushRows > 0 && len(s.ops) >= s.c.flushRows ||
		s.c.flushInterval > 0 && s.cfg.Clock.Now().Sub(s.lastFlush) >= s.c.flushInterval {
		return s.flush(ctx)
	}
	return nil
}

// key encodes the PRIMARY KEY of a row; a NULL in it is an error.
func (s *sink) key(vals []any) (string, error) {
	s.kbuf = s.kbuf[:0]
	for _, k := range s.keys {
		if vals[k] == nil {
			return "", fmt.Errorf("jdbc: table %q: a row has NULL in PRIMARY KEY column %q", s.cfg.Table, s.cfg.Schema.Fields[k].Name)
		}
		s.kbuf = fmt.Appendf(s.kbuf, "%v\x00", vals[k])
	}
	return string(s.kbuf), nil
}

// flush writes the buffered ops. With exactly-once they go into the open
// transaction (begun when needed) and are kept for a replay; otherwise
// each flush is its own transaction, retried on a lost connection (an
// upsert rewrites the same rows; an INSERT may repeat rows: at least
// once).
func (s *sink) flush(ctx context.Context) error {
	s.lastFlush = s.cfg.Clock.Now()
	if len(s.ops) == 0 {
		return nil
	}
	ops := s.ops
	s.ops = nil
	clear(s.keyPos)
	if s.c.guarantee != exactlyOnce {
		return s.retry(ctx, "write", func() error { return s.writeOps(ctx, ops) })
	}
	s.rounds = append(s.rounds, ops)
	first := true
	return s.retry(ctx, "write", func() error {
		if !s.inTxn || !first {
			// A new transaction, or a retry after a lost connection
			// (whose transaction the server rolled back): replay every
			// round of the transaction.
			return s.replay(ctx)
		}
		first = false
		return s.writeOps(ctx, ops)
	})
}

// replay begins a transaction and writes every round flushed since the
// last barrier.
func (s *sink) replay(ctx context.Context) error {
	if s.inTxn {
		_, _ = s.conn.Exec(ctx, "ROLLBACK")
		s.inTxn = false
	}
	if _, err := s.conn.Exec(ctx, "BEGIN"); err != nil {
		return err
	}
	s.inTxn = true
	for _, ops := range s.rounds {
		if err := s.writeOps(ctx, ops); err != nil {
			return err
		}
	}
	return nil
}

// retry runs fn on a connection (reconnecting first when the last one
// was lost), and after a retryable failure drops the connection and tries
// again, up to sink.max-retries times.
func (s *sink) retry(ctx context.Context, what string, fn func() error) error {
	for attempt := 0; ; attempt++ {
		var err error
		if s.conn == nil {
			err = s.reconnect(ctx)
		}
		if err == nil {
			if err = fn(); err == nil {
				return nil
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt >= s.c.maxRetries || !retryable(err) {
			return fmt.Errorf("jdbc: table %q: %s: %w", s.cfg.Table, what, err)
		}
		s.log.Warn("retrying after a failure", "what", what, "attempt", attempt+1, "err", err)
		s.dropConn()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 200 * time.Millisecond):
		}
	}
}

// writeOps writes ops in one round trip: runs of inserts (upserts) and of
// deletes, in order.
func (s *sink) writeOps(ctx context.Context, ops []op) error {
	if s.mode == writeCopy && s.keys == nil {
		rows := make([][]any, len(ops))
		for i, o := range ops {
			rows[i] = o.vals
		}
		s.statements++
		_, err := s.conn.CopyFrom(ctx, s.table, s.names, pgx.CopyFromRows(rows))
		return err
	}
	b := &pgx.Batch{}
	ncol := len(s.cols)
	for i := 0; i < len(ops); {
		j := i
		for j < len(ops) && ops[j].del == ops[i].del {
			j++
		}
		run := ops[i:j]
		if s.mode != writeValues {
			s.queueUnnest(b, run)
			i = j
			continue
		}
		per := maxParams / ncol
		if ops[i].del {
			per = maxParams / len(s.keys)
		}
		for len(run) > 0 {
			m := min(len(run), per)
			if ops[i].del {
				s.queueDelete(b, run[:m])
			} else {
				s.queueInsert(b, run[:m])
			}
			run = run[m:]
		}
		i = j
	}
	s.statements += b.Len()
	return s.conn.SendBatch(ctx, b).Close()
}

// queueUnnest queues one statement for a run of inserts or of deletes:
// each column's values as one array parameter.
func (s *sink) queueUnnest(b *pgx.Batch, run []op) {
	cols := make([]int, len(s.cols))
	for i := range cols {
		cols[i] = i
	}
	q := s.insertQ
	if run[0].del {
		cols, q = s.keys, s.deleteQ
	}
	args := make([]any, len(cols))
	for j, c := range cols {
		vals := make([]any, len(run))
		for r, o := range run {
			vals[r] = o.vals[c]
		}
		args[j] = vals
	}
	b.Queue(q, args...)
}

func (s *sink) queueInsert(b *pgx.Batch, ops []op) {
	var sb strings.Builder
	sb.WriteString("INSERT INTO ")
	sb.WriteString(s.ident)
	sb.WriteString(" (")
	sb.WriteString(strings.Join(s.cols, ", "))
	sb.WriteString(") VALUES ")
	args := make([]any, 0, len(ops)*len(s.cols))
	for r, o := range ops {
		if r > 0 {
			sb.WriteString(", ")
		}
		sb.WriteByte('(')
		for i := range s.cols {
			if i > 0 {
				sb.WriteString(", ")
			}
			args = append(args, o.vals[i])
			fmt.Fprintf(&sb, "$%d", len(args))
		}
		sb.WriteByte(')')
	}
	sb.WriteString(s.upsert)
	b.Queue(sb.String(), args...)
}

func (s *sink) queueDelete(b *pgx.Batch, ops []op) {
	var sb strings.Builder
	sb.WriteString("DELETE FROM ")
	sb.WriteString(s.ident)
	sb.WriteString(" WHERE (")
	for i, k := range s.keys {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(s.cols[k])
	}
	sb.WriteString(") IN (")
	args := make([]any, 0, len(ops)*len(s.keys))
	for r, o := range ops {
		if r > 0 {
			sb.WriteString(", ")
		}
		sb.WriteByte('(')
		for i, k := range s.keys {
			if i > 0 {
				sb.WriteString(", ")
			}
			args = append(args, o.vals[k])
			fmt.Fprintf(&sb, "$%d", len(args))
		}
		sb.WriteByte(')')
	}
	sb.WriteByte(')')
	b.Queue(sb.String(), args...)
}

// PreCommit implements exec.Sink: it flushes the buffer. With
// exactly-once it prepares the open transaction (PREPARE TRANSACTION,
// under an id of this sink's prefix, the checkpoint id and this run's
// nonce) and returns a handle naming every prepared transaction not yet
// committed.
func (s *sink) PreCommit(ctx context.Context, id int64) ([]byte, error) {
	if !s.opened {
		return nil, errors.New("jdbc: sink not open")
	}
	if err := s.flush(ctx); err != nil {
		return nil, err
	}
	if s.c.guarantee != exactlyOnce {
		return nil, nil
	}
	if len(s.rounds) > 0 {
		gid := fmt.Sprintf("%s%d:%s", s.gidPrefix, id, s.nonce)
		err := s.retry(ctx, "prepare transaction", func() error {
			if !s.inTxn {
				// A retry: the transaction may have been prepared before
				// the connection was lost.
				gids, err := s.preparedGIDs(ctx)
				if err != nil {
					return err
				}
				for _, g := range gids {
					if g == gid {
						return nil
					}
				}
				if err := s.replay(ctx); err != nil {
					return err
				}
			}
			if err := s.recordCheckpoint(ctx, id); err != nil {
				return err
			}
			_, err := s.conn.Exec(ctx, "PREPARE TRANSACTION "+quoteLiteral(gid))
			s.inTxn = false
			return err
		})
		if err != nil {
			return nil, err
		}
		s.rounds = nil
		s.pending = append(s.pending, prepared{GID: gid, Checkpoint: id})
	}
	return json.Marshal(handle{Version: 2, Checkpoint: id, Prepared: s.pending})
}

// Commit implements exec.Sink: with exactly-once it commits the prepared
// transactions of checkpoints up to id (COMMIT PREPARED). One that is no
// longer prepared was committed already (by a commit whose answer was
// lost).
func (s *sink) Commit(ctx context.Context, id int64) error {
	if s.c.guarantee != exactlyOnce {
		return nil
	}
	var left []prepared
	var committed int64
	for _, p := range s.pending {
		if p.Checkpoint > id {
			left = append(left, p)
			continue
		}
		committed = max(committed, p.Checkpoint)
		err := s.retry(ctx, "commit prepared transaction", func() error {
			gids, err := s.preparedGIDs(ctx)
			if err != nil {
				return err
			}
			for _, g := range gids {
				if g == p.GID {
					_, err := s.conn.Exec(ctx, "COMMIT PREPARED "+quoteLiteral(p.GID))
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	s.pending = left
	if committed > 0 {
		// Bookkeeping only: a failure leaves more rows than needed.
		if err := s.retry(ctx, "trim the checkpoint records", func() error { return s.trimRecords(ctx, committed) }); err != nil {
			s.log.Warn("cannot trim the sink's checkpoint records", "err", err)
		}
	}
	return nil
}

// Close implements exec.Sink. It commits nothing: an open transaction
// ends with the connection, a prepared one waits for the next run.
func (s *sink) Close() error {
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close(context.Background())
	s.conn = nil
	return err
}

// quoteLiteral quotes s as an SQL string literal.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
