package nexmark_test

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/internal/difftest"
	"github.com/streamsql/streamsql/parser"
)

// sqliteQueries is the independent computation of each runnable Nexmark
// query: SQLite's SQL over the same generated events, loaded into tables
// named as the file's nexmark tables (and its csv filesystem tables,
// loaded from their files), with every TIMESTAMP column c
// (text, 'yyyy-MM-dd HH:mm:ss.SSS') also as c_ms, its epoch milliseconds.
// Its result must equal the engine's (the changelog the query's SELECT
// emits, applied to a table: an updating query is compared by its final
// table). Window TVFs are computed by arithmetic on the epoch millis
// (tumbling and hopping windows are aligned to the epoch, as Flink's);
// {ts(x)} formats epoch millis x as a TIMESTAMP(3) prints. Adding a query
// is adding its entry; a runnable file without one fails the test.
var sqliteQueries = map[string]string{
	"q0": `SELECT auction, bidder, price, dateTime, extra FROM bid`,
	// 0.908 × price, exact: DECIMAL(23, 3).
	"q1": `SELECT auction, bidder, printf('%d.%03d', price * 908 / 1000, price * 908 % 1000), dateTime, extra FROM bid`,
	"q2": `SELECT auction, price FROM bid WHERE auction % 123 = 0`,
	"q3": `SELECT P.name, P.city, P.state, A.id FROM auction A JOIN person P ON A.seller = P.id
	       WHERE A.category = 10 AND P.state IN ('OR', 'ID', 'CA')`,
	// AVG of BIGINT is a BIGINT (truncated), as in Flink.
	"q4": `SELECT category, SUM(final) / COUNT(final) FROM (
	         SELECT MAX(B.price) AS final, A.category FROM auction A, bid B
	         WHERE A.id = B.auction AND B.dateTime_ms BETWEEN A.dateTime_ms AND A.expires_ms
	         GROUP BY A.id, A.category)
	       GROUP BY category`,
	// HOP(2 s, 10 s): a bid is in the 5 windows starting at the 2-s
	// boundaries in (ts − 10 s, ts]; the auctions with the most bids of
	// each window.
	"q5": `WITH ab AS (
	         SELECT auction, ws, COUNT(*) AS num FROM (
	           SELECT auction, dateTime_ms - dateTime_ms % 2000 - k * 2000 AS ws FROM bid,
	             (SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4))
	         GROUP BY auction, ws),
	       mb AS (SELECT ws, MAX(num) AS maxn FROM ab GROUP BY ws)
	       SELECT ab.auction, ab.num FROM ab JOIN mb ON ab.ws = mb.ws AND ab.num >= mb.maxn`,
	// The bids at their 10-s window's highest price, in [window_end − 10 s,
	// window_end] (BETWEEN: both ends).
	"q7": `SELECT B.auction, B.bidder, B.price, B.dateTime, B.extra FROM bid B
	       JOIN (SELECT MAX(price) AS maxprice, ws + 10000 AS we FROM (SELECT price, dateTime_ms - dateTime_ms % 10000 AS ws FROM bid) GROUP BY ws) B1
	       ON B.price = B1.maxprice WHERE B.dateTime_ms BETWEEN B1.we - 10000 AND B1.we`,
	"q8": `SELECT P.id, P.name, {ts(P.ws)} FROM
	         (SELECT DISTINCT id, name, dateTime_ms - dateTime_ms % 10000 AS ws FROM person) P
	       JOIN (SELECT DISTINCT seller, dateTime_ms - dateTime_ms % 10000 AS ws FROM auction) A
	       ON P.id = A.seller AND P.ws = A.ws`,
	// The winning bid of each auction (highest price, then earliest).
	"q9": `SELECT id, itemName, description, initialBid, reserve, dateTime, expires, seller, category, extra,
	              auction, bidder, price, bid_dateTime, bid_extra FROM (
	         SELECT A.*, B.auction, B.bidder, B.price, B.dateTime AS bid_dateTime, B.extra AS bid_extra,
	           ROW_NUMBER() OVER (PARTITION BY A.id ORDER BY B.price DESC, B.dateTime_ms ASC) AS rownum
	         FROM auction A, bid B
	         WHERE A.id = B.auction AND B.dateTime_ms BETWEEN A.dateTime_ms AND A.expires_ms)
	       WHERE rownum <= 1`,
	"q10": `SELECT auction, bidder, price, dateTime, extra, substr(dateTime, 1, 10), substr(dateTime, 12, 5) FROM bid`,
	// Sessions: a bid more than 10 s after the bidder's previous one starts
	// a session, which ends 10 s after its last bid.
	"q11": `SELECT bidder, COUNT(*), {ts(MIN(dateTime_ms))}, {ts(MAX(dateTime_ms) + 10000)} FROM (
	          SELECT bidder, dateTime_ms, SUM(brk) OVER (PARTITION BY bidder ORDER BY dateTime_ms ROWS UNBOUNDED PRECEDING) AS s FROM (
	            SELECT bidder, dateTime_ms,
	              CASE WHEN dateTime_ms - LAG(dateTime_ms) OVER (PARTITION BY bidder ORDER BY dateTime_ms) < 10000 THEN 0 ELSE 1 END AS brk
	            FROM bid))
	        GROUP BY bidder, s`,
	// The side input (keys 0..9999, each with its number as the value),
	// loaded from the same file.
	"q13": `SELECT B.auction, B.bidder, B.price, B.dateTime, S."value" FROM bid B JOIN side_input S ON B.auction % 10000 = S."key"`,
	"q14": `SELECT auction, bidder, printf('%d.%03d', price * 908 / 1000, price * 908 % 1000),
	          CASE WHEN h >= 8 AND h <= 18 THEN 'dayTime' WHEN h <= 6 OR h >= 20 THEN 'nightTime' ELSE 'otherTime' END,
	          dateTime, extra, length(extra) - length(replace(extra, 'c', ''))
	        FROM (SELECT *, CAST(substr(dateTime, 12, 2) AS INTEGER) AS h FROM bid)
	        WHERE price * 908 > 1000000000 AND price * 908 < 50000000000`,
	"q15": `SELECT substr(dateTime, 1, 10), {dailyCounts}
	        FROM bid GROUP BY substr(dateTime, 1, 10)`,
	"q16": `SELECT channel, substr(dateTime, 1, 10), MAX(substr(dateTime, 12, 5)), {dailyCounts}
	        FROM bid GROUP BY channel, substr(dateTime, 1, 10)`,
	"q17": `SELECT auction, substr(dateTime, 1, 10), COUNT(*),
	          COUNT(CASE WHEN price < 10000 THEN 1 END), COUNT(CASE WHEN price >= 10000 AND price < 1000000 THEN 1 END),
	          COUNT(CASE WHEN price >= 1000000 THEN 1 END), MIN(price), MAX(price), SUM(price) / COUNT(price), SUM(price)
	        FROM bid GROUP BY auction, substr(dateTime, 1, 10)`,
	// Ties (same time, or price) are broken by the rest of the row, as the
	// engine's Top-N orders rows it cannot tell apart.
	"q18": `SELECT auction, bidder, price, channel, url, dateTime, extra FROM
	          (SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder, auction ORDER BY dateTime_ms DESC, price, channel, url, extra) AS rn FROM bid)
	        WHERE rn <= 1`,
	"q19": `SELECT auction, bidder, price, channel, url, dateTime, extra, rn FROM
	          (SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC, bidder, channel, url, dateTime_ms, extra) AS rn FROM bid)
	        WHERE rn <= 10`,
	"q20": `SELECT auction, bidder, price, channel, url, B.dateTime, B.extra,
	          itemName, description, initialBid, reserve, A.dateTime, expires, seller, category, A.extra
	        FROM bid B JOIN auction A ON B.auction = A.id WHERE A.category = 10`,
	// The urls have one query parameter after '?', channel_id (if any) the
	// last: '&channel_id=' to the end.
	"q21": `SELECT auction, bidder, price, channel,
	          CASE lower(channel) WHEN 'apple' THEN '0' WHEN 'google' THEN '1' WHEN 'facebook' THEN '2' WHEN 'baidu' THEN '3'
	            ELSE cid END
	        FROM (SELECT *, CASE WHEN instr(url, '&channel_id=') > 0 THEN substr(url, instr(url, '&channel_id=') + 12) END AS cid FROM bid)
	        WHERE cid IS NOT NULL OR lower(channel) IN ('apple', 'google', 'facebook', 'baidu')`,
	// SPLIT_INDEX(url, '/', i): the i-th (from 0) of the '/'-separated
	// parts of 'https://www.nexmark.com/d1/d2/d3/item.htm?query=1'.
	"q22": `WITH RECURSIVE parts(rid, i, part, rest) AS (
	          SELECT rowid, -1, NULL, url || '/' FROM bid
	          UNION ALL
	          SELECT rid, i + 1, substr(rest, 1, instr(rest, '/') - 1), substr(rest, instr(rest, '/') + 1) FROM parts WHERE i < 5)
	        SELECT auction, bidder, price, channel,
	          MAX(CASE WHEN i = 3 THEN part END), MAX(CASE WHEN i = 4 THEN part END), MAX(CASE WHEN i = 5 THEN part END)
	        FROM bid JOIN parts ON parts.rid = bid.rowid GROUP BY bid.rowid`,
}

// sqliteSkipped names the runnable queries SQLite cannot check, and why.
var sqliteSkipped = map[string]string{
	"q12": "its windows are on processing time (PROCTIME()): which bids share a window depends on when the query runs",
}

// dailyCounts are q15's and q16's twelve counts.
const dailyCounts = `COUNT(*),
	COUNT(CASE WHEN price < 10000 THEN 1 END), COUNT(CASE WHEN price >= 10000 AND price < 1000000 THEN 1 END),
	COUNT(CASE WHEN price >= 1000000 THEN 1 END),
	COUNT(DISTINCT bidder), COUNT(DISTINCT CASE WHEN price < 10000 THEN bidder END),
	COUNT(DISTINCT CASE WHEN price >= 10000 AND price < 1000000 THEN bidder END),
	COUNT(DISTINCT CASE WHEN price >= 1000000 THEN bidder END),
	COUNT(DISTINCT auction), COUNT(DISTINCT CASE WHEN price < 10000 THEN auction END),
	COUNT(DISTINCT CASE WHEN price >= 10000 AND price < 1000000 THEN auction END),
	COUNT(DISTINCT CASE WHEN price >= 1000000 THEN auction END)`

var tsMacro = regexp.MustCompile(`\{ts\(([^{}]*?)\)\}`)

// sqliteSQL expands the macros of a sqliteQueries entry.
func sqliteSQL(q string) string {
	q = strings.ReplaceAll(q, "{dailyCounts}", dailyCounts)
	return tsMacro.ReplaceAllString(q, `(strftime('%Y-%m-%d %H:%M:%S', ($1) / 1000, 'unixepoch') || printf('.%03d', ($1) % 1000))`)
}

var insertLine = regexp.MustCompile(`(?im)^INSERT\s+INTO\s+\S+\s*$`)

// checkSQLite runs the file's query (src) with its INSERT INTO line
// removed, compares its result with SQLite's computation of it over the
// same events, and returns the number of changelog rows it emitted.
func checkSQLite(t *testing.T, name, src string) int64 {
	// The engine: the file with its INSERT INTO line removed, so that the
	// SELECT's changelog is collected.
	sel := insertLine.ReplaceAllString(src, "")
	if sel == src {
		t.Fatal("no INSERT INTO line to replace")
	}
	// Relative paths (q13's side input) are the queries directory's.
	abs, err := filepath.Abs("../../queries/nexmark")
	if err != nil {
		t.Fatal(err)
	}
	sel = strings.ReplaceAll(sel, "'path' = 'side_input.txt'", "'path' = '"+filepath.Join(abs, "side_input.txt")+"'")
	got, n := difftest.RunChangelog(t, sel, 0)
	if reason, ok := sqliteSkipped[name]; ok {
		t.Logf("not checked against SQLite: %s", reason)
		return int64(n)
	}
	q, ok := sqliteQueries[name]
	if !ok {
		t.Fatalf("no SQLite computation of %s: add it to sqliteQueries", name)
	}
	difftest.NeedSQLite(t)
	stmts, err := parser.Parse(name, src)
	if err != nil {
		t.Fatal(err)
	}
	// The nexmark tables, dumped through the engine and loaded into SQLite;
	// csv filesystem tables (q13's side input) loaded from their files.
	var ddl, script strings.Builder
	var tables []string
	for _, st := range stmts {
		if ct, ok := st.(*parser.CreateTableStmt); ok {
			ddl.WriteString(ct.String() + ";\n")
			opts := map[string]string{}
			for _, o := range ct.Options {
				opts[o.Key] = o.Value
			}
			switch {
			case opts["connector"] == "nexmark":
				tables = append(tables, ct.Name.Name)
			case opts["connector"] == "filesystem" && opts["format"] == "csv" && !insertsInto(src, ct.Name.Name):
				var cols []string
				for _, c := range ct.Columns {
					typ := "TEXT"
					if c.Type != nil && (c.Type.Name == "BIGINT" || c.Type.Name == "INT" || c.Type.Name == "INTEGER") {
						typ = "INTEGER"
					}
					cols = append(cols, fmt.Sprintf("%q %s", c.Name.Name, typ))
				}
				path := opts["path"]
				if !filepath.IsAbs(path) {
					path = filepath.Join(abs, path)
				}
				fmt.Fprintf(&script, "CREATE TABLE %s(%s);\n.mode csv\n.import %s %s\n", ct.Name.Name, strings.Join(cols, ", "), path, ct.Name.Name)
			}
		}
	}
	for _, table := range tables {
		path, cols := difftest.DumpCSV(t, ddl.String(), table, true)
		fmt.Fprintf(&script, "CREATE TABLE %s(%s);\n.mode csv\n.import %s %s\n", table, strings.Join(cols, ", "), path, table)
	}
	script.WriteString(".mode list\n.separator ,\n.nullvalue NULL\n" + sqliteSQL(q) + ";\n")
	want := difftest.SQLite(t, script.String())
	if len(want) == 0 {
		t.Fatal("SQLite computed no rows")
	}
	if !slices.Equal(got, want) {
		t.Fatalf("engine (%d changelog rows, %d rows) differs from SQLite (%d rows):\n%s", n, len(got), len(want), firstDiff(got, want))
	}
	t.Logf("equal to SQLite: %d rows (%d changelog rows)", len(got), n)
	return int64(n)
}

// insertsInto reports whether src writes to table (a sink, not an input).
func insertsInto(src, table string) bool {
	return regexp.MustCompile(`(?i)\bINSERT\s+INTO\s+` + regexp.QuoteMeta(table) + `\b`).MatchString(src)
}

// firstDiff describes the first rows where a and b (sorted) differ.
func firstDiff(a, b []string) string {
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return fmt.Sprintf("row %d: engine %q\n        sqlite %q", i, x, y)
		}
	}
	return "equal"
}
