package jdbc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/types"
)

// pgColumn is a column of the database's table, from its catalog.
type pgColumn struct {
	name    string // as the catalog spells it
	typ     string // format_type: "integer", "numeric(10,2)", "character varying(20)", …
	base    string // the type's name without modifiers: "int4", "numeric", "varchar", …
	prec    int    // numeric precision, -1 when unconstrained
	scale   int
	notNull bool
	hasDef  bool // a default, identity or generated value
}

// pgTable is the catalog's description of a table.
type pgTable struct {
	ident        string // the table's quoted, schema-qualified name
	schema, name string // the same, unquoted
	columns      []pgColumn
	// unique lists the column sets of its unique indexes (for ON CONFLICT).
	unique [][]string
}

// connect opens a connection, retrying for c.connectFor while the
// database refuses or does not answer.
func connect(ctx context.Context, c *config) (*pgx.Conn, error) {
	deadline := time.Now().Add(c.connectFor)
	backoff := 100 * time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		conn, err := pgx.ConnectConfig(cctx, c.conn)
		cancel()
		if err == nil {
			return conn, nil
		}
		if ctx.Err() != nil || !retryable(err) || time.Now().Add(backoff).After(deadline) {
			return nil, fmt.Errorf("cannot connect to %s: %w", c.url, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// retryable reports whether err may pass when tried again: a connection
// that failed or was lost, a server shutting down or starting up, a
// serialization failure; not a refused statement, password or a missing
// table.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			strings.HasPrefix(pe.Code, "57P"),      // admin shutdown, crash shutdown, cannot connect now
			pe.Code == "40001", pe.Code == "40P01", // serialization failure, deadlock
			pe.Code == "53300": // too many connections
			return true
		}
		return false
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, errRollback)
}

// describe reads the catalog's description of table name (as written in
// 'table-name', resolved by the server's search_path).
func describe(ctx context.Context, conn *pgx.Conn, name string) (*pgTable, error) {
	var oid uint32
	t := &pgTable{}
	err := conn.QueryRow(ctx, `SELECT c.oid, n.nspname, c.relname
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.oid = to_regclass($1)`, name).Scan(&oid, &t.schema, &t.name)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, optErr(optTable, "the database has no table %q", name)
	}
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42602" { // invalid name
			return nil, optErr(optTable, "%q is not a table name: %s", name, pe.Message)
		}
		return nil, fmt.Errorf("catalog of table %q: %w", name, err)
	}
	t.ident = pgx.Identifier{t.schema, t.name}.Sanitize()
	rows, err := conn.Query(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typname,
			CASE WHEN t.typname = 'numeric' AND a.atttypmod >= 4 THEN ((a.atttypmod - 4) >> 16) & 65535 ELSE -1 END,
			CASE WHEN t.typname = 'numeric' AND a.atttypmod >= 4 THEN (a.atttypmod - 4) & 65535 ELSE 0 END,
			a.attnotnull, a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> ''
		FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
		WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, oid)
	if err != nil {
		return nil, fmt.Errorf("catalog of table %q: %w", name, err)
	}
	for rows.Next() {
		var c pgColumn
		if err := rows.Scan(&c.name, &c.typ, &c.base, &c.prec, &c.scale, &c.notNull, &c.hasDef); err != nil {
			rows.Close()
			return nil, fmt.Errorf("catalog of table %q: %w", name, err)
		}
		t.columns = append(t.columns, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("catalog of table %q: %w", name, err)
	}
	rows, err = conn.Query(ctx, `SELECT array_agg(a.attname ORDER BY a.attname)
		FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) AS k(attnum)
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
		WHERE i.indrelid = $1 AND i.indisunique AND i.indpred IS NULL
		GROUP BY i.indexrelid`, oid)
	if err != nil {
		return nil, fmt.Errorf("catalog of table %q: %w", name, err)
	}
	for rows.Next() {
		var cols []string
		if err := rows.Scan(&cols); err != nil {
			rows.Close()
			return nil, fmt.Errorf("catalog of table %q: %w", name, err)
		}
		t.unique = append(t.unique, cols)
	}
	return t, rows.Err()
}

// column finds the database column of the table's column name: the one
// spelled the same, else the only one equal ignoring case (PostgreSQL
// folds unquoted names to lower case, Flink SQL keeps them).
func (t *pgTable) column(name string) (pgColumn, bool) {
	for _, c := range t.columns {
		if c.name == name {
			return c, true
		}
	}
	var found []pgColumn
	for _, c := range t.columns {
		if strings.EqualFold(c.name, name) {
			found = append(found, c)
		}
	}
	if len(found) == 1 {
		return found[0], true
	}
	return pgColumn{}, false
}

// bind matches schema's columns with the database table's: every column
// must exist there with a type that holds the column's values (sink) or
// whose values the column holds (source); a sink must also give a value
// to every NOT NULL column without a default. It returns the database
// columns in the schema's order.
func (t *pgTable) bind(table string, schema types.Schema, sink bool) ([]pgColumn, error) {
	out := make([]pgColumn, len(schema.Fields))
	for i, f := range schema.Fields {
		c, ok := t.column(f.Name)
		if !ok {
			var names []string
			for _, c := range t.columns {
				names = append(names, c.name)
			}
			return nil, &connectors.OptionError{Column: f.Name, Msg: fmt.Sprintf("table %s of the database has no column %q (it has %s)", table, f.Name, strings.Join(names, ", "))}
		}
		if !fits(c, f.Type, sink) {
			dir := "cannot hold the values of"
			if !sink {
				dir = "holds values that do not fit"
			}
			return nil, &connectors.OptionError{Column: f.Name, Msg: fmt.Sprintf("the database column %s.%s is %s, which %s %s (%s)", table, c.name, c.typ, dir, f.Type.Nullable(), typeHint(f.Type))}
		}
		out[i] = c
	}
	if sink {
		for _, c := range t.columns {
			if c.notNull && !c.hasDef && !slices.ContainsFunc(out, func(b pgColumn) bool { return b.name == c.name }) {
				return nil, &connectors.OptionError{Key: optTable, Msg: fmt.Sprintf("the database column %s.%s is NOT NULL without a default, and the table does not write it: add the column", table, c.name)}
			}
		}
	}
	return out, nil
}

// hasUnique reports whether the table has a unique index on exactly cols
// (an ON CONFLICT target).
func (t *pgTable) hasUnique(cols []string) bool {
	want := slices.Clone(cols)
	slices.Sort(want)
	for _, u := range t.unique {
		got := slices.Clone(u)
		slices.Sort(got)
		if slices.Equal(got, want) {
			return true
		}
	}
	return false
}

// fits reports whether the database column c can be written from
// (sink) or read into (source) a column of type t.
func fits(c pgColumn, t types.Type, sink bool) bool {
	switch t.Kind {
	case types.Boolean:
		return c.base == "bool"
	case types.Int:
		if sink {
			return c.base == "int4" || c.base == "int8" || c.base == "numeric" && (c.prec < 0 || c.prec-c.scale >= 10)
		}
		return c.base == "int2" || c.base == "int4"
	case types.BigInt:
		if sink {
			return c.base == "int8" || c.base == "numeric" && (c.prec < 0 || c.prec-c.scale >= 19)
		}
		return c.base == "int2" || c.base == "int4" || c.base == "int8"
	case types.Float:
		if sink {
			return c.base == "float4" || c.base == "float8"
		}
		return c.base == "float4"
	case types.Double:
		if sink {
			return c.base == "float8"
		}
		return c.base == "float4" || c.base == "float8"
	case types.Decimal:
		if c.base != "numeric" {
			return false
		}
		if sink {
			return c.prec < 0 || c.scale >= t.Scale && c.prec-c.scale >= t.Precision-t.Scale
		}
		return c.prec >= 0 && c.scale <= t.Scale && c.prec-c.scale <= t.Precision-t.Scale
	case types.String:
		return c.base == "text" || c.base == "varchar" || c.base == "bpchar" || !sink && c.base == "name"
	case types.Timestamp:
		return c.base == "timestamp"
	case types.TimestampLTZ:
		return c.base == "timestamptz"
	case types.Interval:
		return c.base == "interval"
	}
	return false
}

// typeHint names the PostgreSQL types that fit t.
func typeHint(t types.Type) string {
	switch t.Kind {
	case types.Boolean:
		return "use boolean"
	case types.Int:
		return "use integer"
	case types.BigInt:
		return "use bigint"
	case types.Float:
		return "use real"
	case types.Double:
		return "use double precision"
	case types.Decimal:
		return fmt.Sprintf("use numeric(%d,%d)", t.Precision, t.Scale)
	case types.String:
		return "use text or varchar"
	case types.Timestamp:
		return "use timestamp"
	case types.TimestampLTZ:
		return "use timestamptz"
	case types.Interval:
		return "use interval"
	}
	return "no PostgreSQL type maps to it"
}

// preparedTransactions returns the server's max_prepared_transactions.
func preparedTransactions(ctx context.Context, conn *pgx.Conn) (int, error) {
	var n int
	if err := conn.QueryRow(ctx, "SELECT current_setting('max_prepared_transactions')::int").Scan(&n); err != nil {
		return 0, fmt.Errorf("max_prepared_transactions: %w", err)
	}
	return n, nil
}

// check is the plan-time check of a table: it connects, binds the schema
// to the database table, and for a sink checks the PRIMARY KEY's unique
// index and two-phase commit.
func check(c *config, schema types.Schema, sink bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pc := *c
	pc.connectFor = min(c.connectFor, 5*time.Second) // planning does not wait for long
	conn, err := connect(ctx, &pc)
	if err != nil {
		return optErr(optURL, "%v", err)
	}
	defer conn.Close(context.Background())
	t, err := describe(ctx, conn, c.table)
	if err != nil {
		return err
	}
	if _, err := t.bind(c.table, schema, sink); err != nil {
		return err
	}
	if !sink {
		return nil
	}
	if len(c.primaryKey) > 0 {
		var cols []string
		for _, k := range c.primaryKey {
			col, _ := t.column(k)
			cols = append(cols, col.name)
		}
		if !t.hasUnique(cols) {
			return optErr(optTable, "PRIMARY KEY (%s): the database table %s has no primary key or unique index on exactly these columns, which upserts (INSERT … ON CONFLICT) need", strings.Join(c.primaryKey, ", "), c.table)
		}
	}
	if c.guarantee == exactlyOnce {
		n, err := preparedTransactions(ctx, conn)
		if err != nil {
			return err
		}
		if n == 0 {
			return optErr(optGuarantee, "exactly-once needs two-phase commit, and the server has max_prepared_transactions = 0: set it above 0 in postgresql.conf (and restart the server), or use 'sink.delivery-guarantee' = 'at-least-once'%s", idempotentHint(c))
		}
	}
	return nil
}

func idempotentHint(c *config) string {
	if len(c.primaryKey) > 0 {
		return " (upserts by the PRIMARY KEY are idempotent: a replay rewrites the same rows)"
	}
	return " (without a PRIMARY KEY a replay after a failure inserts rows again)"
}
