package repl

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/internal/render"
	"github.com/streamsql/streamsql/internal/termtest"
	"github.com/streamsql/streamsql/types"
)

// terminal records what liveTable writes to its terminal.
type terminal struct {
	mu  sync.Mutex
	raw bytes.Buffer
}

func (t *terminal) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.raw.Write(p)
}

// screen returns the screen's text as a terminal shows it, one line each.
func (t *terminal) screen() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(termtest.Lines(t.raw.String()), "\n")
}

var counts = types.Schema{Fields: []types.Field{{Name: "k", Type: types.BigIntType}, {Name: "n", Type: types.BigIntType}}}

// countChanges returns the changelog of key k's count going from n-1 to n
// (an insert for n == 1).
func countChanges(t *testing.T, ks []int64, ns []int64) arrow.Record {
	t.Helper()
	b := array.NewRecordBuilder(memory.DefaultAllocator, counts.Arrow())
	defer b.Release()
	var kinds []types.RowKind
	for i, k := range ks {
		if ns[i] > 1 {
			b.Field(0).(*array.Int64Builder).Append(k)
			b.Field(1).(*array.Int64Builder).Append(ns[i] - 1)
			kinds = append(kinds, types.UpdateBefore)
			kinds = append(kinds, types.UpdateAfter)
		} else {
			kinds = append(kinds, types.Insert)
		}
		b.Field(0).(*array.Int64Builder).Append(k)
		b.Field(1).(*array.Int64Builder).Append(ns[i])
	}
	rec := b.NewRecord()
	defer rec.Release()
	kr := exec.NewRowKinds(memory.DefaultAllocator, kinds)
	defer kr.Release()
	return exec.WithRowKinds(rec, kr)
}

// feed applies rounds of one count update for each of keys keys through
// lt, pausing between rounds; it returns the final count of each key.
func feed(t *testing.T, lt *liveTable, keys, rounds int, pause time.Duration) {
	t.Helper()
	for r := 1; r <= rounds; r++ {
		ks, ns := make([]int64, keys), make([]int64, keys)
		for k := range keys {
			ks[k], ns[k] = int64(k), int64(r)
		}
		rec := countChanges(t, ks, ns)
		err := lt.Record(rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(pause)
	}
}

// TestLiveTable: on a terminal the table is redrawn in place (the screen
// holds one table, with the final counts, bounded to the terminal's lines
// with a "more rows" line), at most once per interval; a retraction of a
// row the table does not hold is an error; without a terminal the final
// table prints once, whole, without control sequences.
func TestLiveTable(t *testing.T) {
	term := &terminal{}
	lt := newLiveTable(term, counts, render.TableOptions{Types: true})
	lt.size = func() (int, int, bool) { return 200, 30, true }
	lt.interval = 20 * time.Millisecond
	if err := lt.Begin(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	feed(t, lt, 40, 30, 5*time.Millisecond)
	if err := lt.End(); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	scr := term.screen()
	if n := strings.Count(scr, "|                    k |"); n != 1 {
		t.Fatalf("the screen shows %d tables, want 1 redrawn in place:\n%s", n, scr)
	}
	// 30 lines less the 8 the frame leaves free: 22 rows of 40.
	for k := range 22 {
		if want := fmt.Sprintf("| %20d | %20d |", k, 30); !strings.Contains(scr, want+"\n") {
			t.Fatalf("row %d is not %q on the final screen:\n%s", k, want, scr)
		}
	}
	if strings.Contains(scr, fmt.Sprintf("| %20d |", 22)) || !strings.HasSuffix(scr, "… 18 more rows") {
		t.Fatalf("the frame is not bounded to the terminal:\n%s", scr)
	}
	lt.mu.Lock()
	redraws := lt.redraws
	lt.mu.Unlock()
	if redraws < 2 || time.Duration(redraws-2)*lt.interval > elapsed {
		t.Fatalf("%d redraws in %v at one per %v", redraws, elapsed, lt.interval)
	}
	if lt.Rows() != 40 {
		t.Fatalf("Rows: %d", lt.Rows())
	}

	// A -D of a row the table does not hold.
	bad := &liveTable{w: term, opts: render.TableOptions{}, size: func() (int, int, bool) { return 0, 0, false }, view: render.NewView(counts)}
	b := array.NewRecordBuilder(memory.DefaultAllocator, counts.Arrow())
	b.Field(0).(*array.Int64Builder).Append(7)
	b.Field(1).(*array.Int64Builder).Append(1)
	rec := b.NewRecord()
	b.Release()
	kinds := exec.NewRowKinds(memory.DefaultAllocator, []types.RowKind{types.Delete})
	del := exec.WithRowKinds(rec, kinds)
	rec.Release()
	kinds.Release()
	defer del.Release()
	if err := bad.Record(del); err == nil || err.Error() != "result mode 'table': -D[7, 1] retracts a row that is not in the result" {
		t.Fatalf("retraction of an absent row: %v", err)
	}

	// Not a terminal: the whole final table, once.
	var out bytes.Buffer
	plain := newLiveTable(&out, counts, render.TableOptions{})
	if plain.Terminal() {
		t.Fatal("a buffer is a terminal")
	}
	if err := plain.Begin(); err != nil {
		t.Fatal(err)
	}
	feed(t, plain, 40, 3, 0)
	if err := plain.End(); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if strings.Contains(got, "\x1b") || strings.Count(got, "|                    k |") != 1 || strings.Count(got, "|                    3 |\n") != 40 || strings.Contains(got, "more rows") {
		t.Fatalf("final table without a terminal:\n%s", got)
	}
}
