package jdbc

import (
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// The option keys, as Flink's JDBC connector names them ('password.env'
// is ours).
const (
	optURL            = "url"
	optTable          = "table-name"
	optDriver         = "driver"
	optUsername       = "username"
	optPassword       = "password"
	optPasswordEnv    = "password.env"
	optConnectTimeout = "connection.max-retry-timeout"
	optFlushRows      = "sink.buffer-flush.max-rows"
	optFlushInterval  = "sink.buffer-flush.interval"
	optMaxRetries     = "sink.max-retries"
	optGuarantee      = "sink.delivery-guarantee"
	optFetchSize      = "scan.fetch-size"
	optCacheRows      = "lookup.cache.max-rows"
	optCacheTTL       = "lookup.cache.ttl"
	optCacheMissing   = "lookup.cache.caching-missing-key"
	optLookupRetries  = "lookup.max-retries"
)

// The delivery guarantees of 'sink.delivery-guarantee'.
const (
	exactlyOnce = "exactly-once"
	atLeastOnce = "at-least-once"
	noGuarantee = "none"
)

// postgresDriver is the one value 'driver' accepts.
const postgresDriver = "org.postgresql.Driver"

var options = []connectors.Option{
	{Key: optURL, Required: true, Source: true, Sink: true,
		Help: "jdbc:postgresql://host:port/db[?params] or postgres://host:port/db[?params] (no password in it: use 'password' or 'password.env')"},
	{Key: optTable, Required: true, Source: true, Sink: true, Help: "the table read or written, optionally schema-qualified (schema.table)"},
	{Key: optDriver, Source: true, Sink: true, Default: postgresDriver, Help: "accepted for Flink compatibility; only " + postgresDriver},
	{Key: optUsername, Source: true, Sink: true, Help: "the user to connect as (default: the url's, then $PGUSER)"},
	{Key: optPassword, Source: true, Sink: true, Help: "the password (never shown: EXPLAIN, SHOW CREATE TABLE and the REST API mask it)"},
	{Key: optPasswordEnv, Source: true, Sink: true, Help: "the name of an environment variable holding the password, read when the query is planned and run"},
	{Key: optConnectTimeout, Source: true, Sink: true, Default: "60 s", Help: "how long connecting is retried while the database is unreachable"},
	{Key: optFlushRows, Sink: true, Default: "100", Help: "rows buffered before they are written ('0': only at checkpoints and the interval)"},
	{Key: optFlushInterval, Sink: true, Default: "1 s", Help: "buffered rows are written at least this often (checked as rows arrive and at every checkpoint); '0' turns it off"},
	{Key: optMaxRetries, Sink: true, Default: "3", Help: "how often a failed write (a lost connection, a restarted server) is retried before the job fails"},
	{Key: optGuarantee, Sink: true, Default: atLeastOnce,
		Help: "exactly-once (one transaction per checkpoint, PREPARE TRANSACTION at the barrier, COMMIT PREPARED once it is durable; needs max_prepared_transactions > 0), at-least-once or none"},
	{Key: optFetchSize, Source: true, Default: "0", Help: "rows per batch of the scan (0: the job's batch size)"},
	{Key: optCacheRows, Source: true, Help: "lookup: the most keys the cache holds (unset: no cache)"},
	{Key: optCacheTTL, Source: true, Help: "lookup: how long a cached key's rows are used"},
	{Key: optCacheMissing, Source: true, Default: "true", Help: "lookup: cache keys without rows too"},
	{Key: optLookupRetries, Source: true, Default: "3", Help: "lookup: how often a failed query is retried"},
}

// config is a table's parsed options.
type config struct {
	conn       *pgx.ConnConfig
	url        string // as written, without secrets (it may hold none)
	table      string // as written: to_regclass resolves it
	connectFor time.Duration

	flushRows     int
	flushInterval time.Duration
	maxRetries    int
	guarantee     string
	primaryKey    []string

	fetchSize      int
	cacheRows      int
	cacheTTL       time.Duration
	cacheMissing   bool
	lookupRetries  int
	passwordSource string // for errors: which option gave the password, or ""
}

func optErr(key, format string, args ...any) error {
	return &connectors.OptionError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// parseConfig checks a table's options and builds the connection
// configuration; it does not connect.
func parseConfig(opts map[string]string, sink bool) (*config, error) {
	c := &config{table: strings.TrimSpace(opts[optTable])}
	if c.table == "" {
		return nil, optErr(optTable, "must name a table")
	}
	if d, ok := opts[optDriver]; ok && d != postgresDriver {
		return nil, optErr(optDriver, "only PostgreSQL is supported (%q), got %q", postgresDriver, d)
	}
	raw := strings.TrimSpace(opts[optURL])
	u, err := pgURL(raw)
	if err != nil {
		return nil, optErr(optURL, "%v", err)
	}
	c.url = raw
	cc, err := pgx.ParseConfig(u)
	if err != nil {
		// raw holds no password (pgURL refused it), so it may be quoted.
		return nil, optErr(optURL, "cannot parse %q: %v", raw, err)
	}
	if v, ok := opts[optUsername]; ok {
		cc.User = v
	}
	pw, hasPW := opts[optPassword]
	env, hasEnv := opts[optPasswordEnv]
	switch {
	case hasPW && hasEnv:
		return nil, optErr(optPasswordEnv, "set either 'password' or 'password.env', not both")
	case hasPW:
		cc.Password = pw
		c.passwordSource = optPassword
	case hasEnv:
		v, ok := os.LookupEnv(env)
		if !ok {
			return nil, optErr(optPasswordEnv, "environment variable %q is not set", env)
		}
		cc.Password = v
		c.passwordSource = optPasswordEnv
	}
	if cc.RuntimeParams["application_name"] == "" {
		// What pg_stat_activity shows of the job's connections.
		cc.RuntimeParams["application_name"] = "streamsql"
	}
	c.conn = cc
	if c.connectFor, err = duration(opts, optConnectTimeout, 60*time.Second); err != nil {
		return nil, err
	}
	if !sink {
		if c.fetchSize, err = intOpt(opts, optFetchSize, 0, 0); err != nil {
			return nil, err
		}
		if c.cacheRows, err = intOpt(opts, optCacheRows, 0, 0); err != nil {
			return nil, err
		}
		if c.cacheTTL, err = duration(opts, optCacheTTL, 0); err != nil {
			return nil, err
		}
		if c.cacheMissing, err = boolOpt(opts, optCacheMissing, true); err != nil {
			return nil, err
		}
		if c.lookupRetries, err = intOpt(opts, optLookupRetries, 3, 0); err != nil {
			return nil, err
		}
		return c, nil
	}
	if c.flushRows, err = intOpt(opts, optFlushRows, 100, 0); err != nil {
		return nil, err
	}
	if c.flushInterval, err = duration(opts, optFlushInterval, time.Second); err != nil {
		return nil, err
	}
	if c.maxRetries, err = intOpt(opts, optMaxRetries, 3, 0); err != nil {
		return nil, err
	}
	c.guarantee = atLeastOnce
	if v, ok := opts[optGuarantee]; ok {
		switch v {
		case exactlyOnce, atLeastOnce, noGuarantee:
			c.guarantee = v
		default:
			return nil, optErr(optGuarantee, "expected exactly-once, at-least-once or none, got %q", v)
		}
	}
	if pk := opts[plan.PrimaryKeyOption]; pk != "" {
		c.primaryKey = strings.Split(pk, ",")
	}
	return c, nil
}

// pgURL turns the 'url' option into a URL pgx parses: a JDBC URL loses
// its "jdbc:" prefix. A password in it is refused: the url is shown in
// EXPLAIN and SHOW CREATE TABLE.
func pgURL(raw string) (string, error) {
	s := raw
	if strings.HasPrefix(s, "jdbc:") {
		s = strings.TrimPrefix(s, "jdbc:")
		if !strings.HasPrefix(s, "postgresql://") {
			return "", fmt.Errorf("only PostgreSQL is supported: expected jdbc:postgresql://host:port/database, got %q", raw)
		}
	}
	if !strings.HasPrefix(s, "postgresql://") && !strings.HasPrefix(s, "postgres://") {
		return "", fmt.Errorf("expected jdbc:postgresql://host:port/database or postgres://host:port/database, got %q", raw)
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("not a URL: %v", err)
	}
	if _, ok := u.User.Password(); ok {
		return "", fmt.Errorf("holds a password, and the url is shown in EXPLAIN and SHOW CREATE TABLE: give it in 'password' or 'password.env'")
	}
	q := u.Query()
	if q.Has("password") {
		return "", fmt.Errorf("holds a password parameter, and the url is shown in EXPLAIN and SHOW CREATE TABLE: give it in 'password' or 'password.env'")
	}
	// The JDBC driver's name for the user; pgx's is "user".
	if v := q.Get("username"); v != "" && !q.Has("user") {
		q.Set("user", v)
	}
	q.Del("username")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// duration parses a duration option; def when absent.
func duration(opts map[string]string, key string, def time.Duration) (time.Duration, error) {
	v, ok := opts[key]
	if !ok {
		return def, nil
	}
	ms, err := types.ParseInterval(v)
	if err != nil || ms < 0 {
		return 0, optErr(key, "expected a duration such as '10 s', got %q", v)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

func intOpt(opts map[string]string, key string, def, least int) (int, error) {
	v, ok := opts[key]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < least {
		return 0, optErr(key, "expected an integer of %d or more, got %q", least, v)
	}
	return n, nil
}

func boolOpt(opts map[string]string, key string, def bool) (bool, error) {
	v, ok := opts[key]
	if !ok {
		return def, nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, optErr(key, "expected 'true' or 'false', got %q", v)
}
