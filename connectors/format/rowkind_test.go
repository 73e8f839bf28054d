package format

import (
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow/memory"
)

// TestEncoderRowKinds: JSON and CSV refuse updates unless asked to write the
// kinds (result streams); then a JSON row that is not an insert carries
// "op", and an insert reads as before.
func TestEncoderRowKinds(t *testing.T) {
	alloc := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer alloc.AssertSize(t, 0)
	schema := parseSchema(t, "id BIGINT, name STRING")
	dec, err := NewDecoder(DebeziumJSON, schema, nil, alloc)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Release()
	for _, l := range []string{
		`{"before":null,"after":{"id":1,"name":"a"},"op":"c"}`,
		`{"before":{"id":1,"name":"a"},"after":{"id":1,"name":"b"},"op":"u"}`,
		`{"before":{"id":1,"name":"b"},"after":null,"op":"d"}`,
	} {
		if err := dec.Decode([]byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	rec := dec.NewRecord()
	defer rec.Release()

	for _, f := range []string{JSON, CSV} {
		enc, err := NewEncoder(f, schema, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = enc.AppendRecord(nil, rec)
		if want := "format: '" + f + "' accepts only inserts, got a -U row"; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s encoder of updates: error %v, want %q", f, err, want)
		}
	}
	enc, _ := NewEncoder(JSON, schema, nil)
	if err := enc.WriteRowKinds(false); err != nil {
		t.Fatal(err)
	}
	b, err := enc.AppendRecord(nil, rec)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":1,"name":"a"}
{"op":"-U","id":1,"name":"a"}
{"op":"+U","id":1,"name":"b"}
{"op":"-D","id":1,"name":"b"}
`
	if string(b) != want {
		t.Errorf("JSON with kinds:\n%s\nwant:\n%s", b, want)
	}
	// An updating result's inserts carry their kind too.
	enc, _ = NewEncoder(JSON, schema, nil)
	_ = enc.WriteRowKinds(true)
	if b, _ := enc.AppendRecord(nil, rec); !strings.HasPrefix(string(b), `{"op":"+I","id":1,"name":"a"}`+"\n"+`{"op":"-U",`) {
		t.Errorf("JSON with the kinds of inserts:\n%s", b)
	}
	// A column named op moves the kind to "$op".
	enc, _ = NewEncoder(JSON, parseSchema(t, "OP BIGINT, name STRING"), nil)
	_ = enc.WriteRowKinds(false)
	if b, _ := enc.AppendRecord(nil, rec); !strings.Contains(string(b), `{"$op":"-U","OP":1,"name":"a"}`) {
		t.Errorf("JSON with a column op:\n%s", b)
	}
	csv, _ := NewEncoder(CSV, schema, nil)
	if err := csv.WriteRowKinds(true); err == nil {
		t.Error("CSV writes row kinds")
	}
}
