package connectors_test

import (
	"testing"

	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/plan"
)

// TestRegistryChangelogModes: sources are append-only unless their format
// is debezium-json; print, blackhole and collect accept every mode, the
// other sinks only append-only streams.
func TestRegistryChangelogModes(t *testing.T) {
	r := connectors.NewRegistry()
	for _, c := range []struct {
		opts map[string]string
		want plan.Changelog
	}{
		{map[string]string{"connector": "kafka", "format": "debezium-json"}, plan.Retract},
		{map[string]string{"connector": "kafka", "format": "json"}, plan.AppendOnly},
		{map[string]string{"connector": "datagen"}, plan.AppendOnly},
	} {
		if got := r.SourceChangelog(c.opts); got != c.want {
			t.Errorf("SourceChangelog(%v) = %s, want %s", c.opts, got, c.want)
		}
	}
	for _, c := range []struct {
		connector string
		updates   bool
	}{{"print", true}, {"blackhole", true}, {"collect", true}, {"", true}, {"kafka", false}, {"filesystem", false}} {
		opts := map[string]string{}
		if c.connector != "" {
			opts["connector"] = c.connector
		}
		if !r.SinkAccepts(opts, plan.AppendOnly) {
			t.Errorf("%q refuses an append-only stream", c.connector)
		}
		for _, m := range []plan.Changelog{plan.Retract, plan.Upsert} {
			if got := r.SinkAccepts(opts, m); got != c.updates {
				t.Errorf("SinkAccepts(%q, %s) = %v, want %v", c.connector, m, got, c.updates)
			}
		}
	}
}
