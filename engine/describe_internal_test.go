package engine

import (
	"strings"
	"testing"

	"github.com/streamsql/streamsql/parser"
)

func TestSecretOptions(t *testing.T) {
	for key, secret := range map[string]bool{
		"properties.sasl.jaas.config": true, "properties.ssl.truststore.password": true,
		"PASSWORD": true, "s3.secret-key": true, "oauth.token": true, "gcs.credentials": true,
		"topic": false, "properties.bootstrap.servers": false, "path": false, "format": false,
	} {
		if got := isSecretOption(key); got != secret {
			t.Errorf("isSecretOption(%q) = %v, want %v", key, got, secret)
		}
	}
}

// TestStatementTextMasksOptions: the echo of a CREATE TABLE (REST, logs,
// REPL history) masks its secret options, as SHOW CREATE TABLE does.
func TestStatementTextMasksOptions(t *testing.T) {
	stmts, err := parser.Parse("t", `CREATE TABLE t (k INT) WITH ('connector' = 'jdbc', 'url' = 'postgres://h/db', 'table-name' = 't', 'password' = 'hunter2')`)
	if err != nil {
		t.Fatal(err)
	}
	got := StatementText(stmts[0])
	if strings.Contains(got, "hunter2") || !strings.Contains(got, "'password' = '******'") || !strings.Contains(got, "'url' = 'postgres://h/db'") {
		t.Fatalf("StatementText: %s", got)
	}
}
