package builtin

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/types"
)

func TestRegistry(t *testing.T) {
	var out bytes.Buffer
	r := Registry(&out)
	for _, name := range []string{"blackhole", "datagen", "filesystem", "print"} {
		if _, ok := r.Lookup(name); !ok {
			t.Errorf("connector %q missing (have %v)", name, r.Names())
		}
	}
	// Every factory documents every option.
	for _, name := range r.Names() {
		f, _ := r.Lookup(name)
		for _, o := range f.Options() {
			if o.Help == "" || !o.Source && !o.Sink {
				t.Errorf("%s: option %q lacks help or role", name, o.Key)
			}
		}
	}
	schema := types.Schema{Fields: []types.Field{{Name: "id", Type: types.BigIntType}, {Name: "ts", Type: types.TimestampType}}}
	if err := r.Validate(map[string]string{"connector": "datgen"}, schema, false); err == nil ||
		err.Error() != `option "connector": unknown connector "datgen"; did you mean "datagen"?` {
		t.Fatalf("got %v", err)
	}

	// datagen → print, end to end.
	opts := map[string]string{"connector": "datagen", "number-of-rows": "3", "rows-per-second": "unlimited",
		"fields.id.kind": "sequence", "fields.ts.step": "1 s"}
	if err := r.Validate(opts, schema, false); err != nil {
		t.Fatal(err)
	}
	src, err := r.NewSource("datagen", exec.SourceConfig{Schema: schema, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	sink, err := r.NewSink("print", exec.SinkConfig{Schema: schema, Options: map[string]string{"print-identifier": "q"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	src.Open(ctx, nil)
	sink.Open(ctx, nil)
	for {
		rec, _, err := src.Read(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		sink.Write(ctx, rec)
		rec.Release()
	}
	want := strings.Join([]string{
		"q> +I[0, 2024-01-01 00:00:00.000]",
		"q> +I[1, 2024-01-01 00:00:01.000]",
		"q> +I[2, 2024-01-01 00:00:02.000]", ""}, "\n")
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
}
