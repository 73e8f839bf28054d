package state

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/streamsql/streamsql/checkpoint"
)

// counter is a test operator written only against declared tables: a
// keyed count per key, a non-keyed count of "late" rows (split on
// rescale, summed when subtasks meet) and a non-keyed watermark (given to
// every subtask, the largest kept). It has no persistence code.
type counter struct {
	ts           *Tables
	counts, late *Table
	wm           *Table
	sub          Subtask
}

func u64(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func put64(t *Table, key []byte, v uint64) { t.Put(key, binary.BigEndian.AppendUint64(nil, v)) }

func newCounter(t *testing.T, sub Subtask, layout string) *counter {
	t.Helper()
	sum := func(_, a, b []byte) ([]byte, error) { return binary.BigEndian.AppendUint64(nil, u64(a)+u64(b)), nil }
	maxOf := func(_, a, b []byte) ([]byte, error) {
		return binary.BigEndian.AppendUint64(nil, max(u64(a), u64(b))), nil
	}
	ts, err := NewTables("7-counter", sub,
		Spec{Name: "counts", Keyed: true, Layout: layout},
		Spec{Name: "late", Layout: "BIGINT", Redistribute: Split, Merge: sum},
		Spec{Name: "watermark", Layout: "BIGINT", Redistribute: Union, Merge: maxOf},
	)
	if err != nil {
		t.Fatal(err)
	}
	return &counter{ts: ts, counts: ts.Table("counts"), late: ts.Table("late"), wm: ts.Table("watermark"), sub: sub}
}

func (c *counter) add(key int64, late bool) {
	k := AppendIntKey(nil, key, false)
	if late {
		v, _ := c.late.Get([]byte("n"))
		put64(c.late, []byte("n"), u64(v)+1)
		return
	}
	v, _ := c.counts.Get(k)
	put64(c.counts, k, u64(v)+1)
}

func (c *counter) watermark(wm uint64) { put64(c.wm, []byte("wm"), wm) }

// owner returns the subtask of parallelism p that the exchange sends key to.
func owner(key int64, p, maxP int) int {
	return SubtaskOf(KeyGroupOf(HashIntKey(key), maxP), p, maxP)
}

type world struct {
	t     *testing.T
	store *checkpoint.Store
	id    uint64
}

func (w *world) checkpoint(subs []*counter) {
	w.t.Helper()
	w.id++
	p := w.store.Begin(w.id)
	sw := p.Operator("7-counter")
	for _, c := range subs {
		if _, err := c.ts.Snapshot(sw); err != nil {
			w.t.Fatal(err)
		}
	}
	if _, err := p.Commit(context.Background()); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) restore(p, maxP int, layout string) ([]*counter, error) {
	w.t.Helper()
	r, err := w.store.Restore()
	if err != nil {
		w.t.Fatal(err)
	}
	var subs []*counter
	for i := range p {
		sub, err := NewSubtask(i, p, maxP)
		if err != nil {
			w.t.Fatal(err)
		}
		c := newCounter(w.t, sub, layout)
		if err := c.ts.Restore(SubtaskReader(r.Operator("7-counter"), sub.KeyGroups), nil); err != nil {
			return nil, err
		}
		subs = append(subs, c)
	}
	return subs, nil
}

// totals checks that each subtask holds exactly the keys the exchange
// sends it and returns the counts of all subtasks, the summed late count
// and every subtask's watermark.
func totals(t *testing.T, subs []*counter, maxP int) (map[int64]uint64, uint64, []uint64) {
	t.Helper()
	counts := map[int64]uint64{}
	var late uint64
	var wms []uint64
	for i, c := range subs {
		err := c.counts.Scan(func(k, v []byte) error {
			key := int64(binary.BigEndian.Uint64(k[1:]) ^ (1 << 63))
			if o := owner(key, len(subs), maxP); o != i {
				t.Errorf("subtask %d of %d holds key %d, which the exchange sends to %d", i, len(subs), key, o)
			}
			counts[key] += u64(v)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		v, _ := c.late.Get([]byte("n"))
		late += u64(v)
		v, _ = c.wm.Get([]byte("wm"))
		wms = append(wms, u64(v))
	}
	return counts, late, wms
}

// TestTablesRescale runs the counter at parallelism 2, checkpoints, and
// restores at 3, 1, 2 and 4 in turn, checkpointing and feeding more rows
// at each step: every step's state equals that of one counter that saw
// every row, with each key on the subtask the exchange routes it to.
func TestTablesRescale(t *testing.T) {
	const maxP = 16
	store, err := checkpoint.Open(t.TempDir(), checkpoint.Options{JobName: "job"})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if r, err := store.Restore(); err != nil || r != nil {
		t.Fatalf("fresh store: %v, %v", r, err)
	}
	w := &world{t: t, store: store}
	var subs []*counter
	for i := range 2 {
		sub, _ := NewSubtask(i, 2, maxP)
		subs = append(subs, newCounter(t, sub, "BIGINT -> BIGINT"))
	}
	want := map[int64]uint64{}
	var wantLate uint64
	feed := func(round int) {
		for k := int64(0); k < 40; k++ {
			if (k+int64(round))%3 == 0 {
				continue
			}
			subs[owner(k, len(subs), maxP)].add(k, false)
			want[k]++
		}
		for i, c := range subs {
			for range i + round {
				c.add(0, true)
				wantLate++
			}
			c.watermark(uint64(100*round + i))
		}
	}
	for round, p := range []int{3, 1, 2, 4} {
		feed(round)
		wantWM := uint64(100*round + len(subs) - 1)
		w.checkpoint(subs)
		if subs, err = w.restore(p, maxP, "BIGINT -> BIGINT"); err != nil {
			t.Fatalf("restore at %d: %v", p, err)
		}
		got, late, wms := totals(t, subs, maxP)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("restored at %d: counts %v, want %v", p, got, want)
		}
		if late != wantLate {
			t.Fatalf("restored at %d: late %d, want %d", p, late, wantLate)
		}
		for i, wm := range wms {
			if wm != wantWM {
				t.Fatalf("restored at %d: subtask %d watermark %d, want %d", p, i, wm, wantWM)
			}
		}
	}
}

// TestTablesRefuse checks the restore errors: a changed layout, a table
// no longer declared, a non-keyed key that meets without a merge, and
// state of an older version without a catalog.
func TestTablesRefuse(t *testing.T) {
	store, err := checkpoint.Open(t.TempDir(), checkpoint.Options{JobName: "job"})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Restore(); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, store: store}
	a, _ := NewSubtask(0, 2, 8)
	b, _ := NewSubtask(1, 2, 8)
	subs := []*counter{newCounter(t, a, "L1"), newCounter(t, b, "L1")}
	subs[0].add(1, false)
	subs[1].add(2, false)
	w.checkpoint(subs)

	_, err = w.restore(2, 8, "L2")
	if !errors.Is(err, ErrLayout) || !strings.Contains(err.Error(), `"7-counter"`) || !strings.Contains(err.Error(), `"counts"`) || !strings.Contains(err.Error(), "L1") {
		t.Errorf("restore with another layout: %v, want ErrLayout naming the operator, the table and the layouts", err)
	}

	r, _ := store.Restore()
	few, _ := NewTables("7-counter", Single(8), Spec{Name: "counts", Keyed: true, Layout: "L1"})
	if err := few.Restore(r.Operator("7-counter"), nil); !errors.Is(err, ErrLayout) || !strings.Contains(err.Error(), `"late"`) {
		t.Errorf("restore without a declared table: %v, want ErrLayout naming \"late\"", err)
	}

	noMerge, _ := NewTables("7-counter", Single(8), Spec{Name: "counts", Keyed: true, Layout: "L1"},
		Spec{Name: "late", Layout: "BIGINT", Redistribute: Split}, Spec{Name: "watermark", Layout: "BIGINT"})
	subs[0].watermark(1)
	subs[1].watermark(2)
	w.checkpoint(subs)
	r, _ = store.Restore()
	if err := noMerge.Restore(r.Operator("7-counter"), nil); err == nil || !strings.Contains(err.Error(), `"watermark"`) || !strings.Contains(err.Error(), "no merge") {
		t.Errorf("restore of two subtasks' watermark into one without a merge: %v, want an error naming the table", err)
	}

	// Another number of key groups.
	if _, err := w.restore(2, 16, "L1"); !errors.Is(err, ErrLayout) || !strings.Contains(err.Error(), "max-parallelism 8") {
		t.Errorf("restore with max parallelism 16 of state of 8: %v, want ErrLayout naming both", err)
	}

	// Version-1 window state: no catalog.
	w.id++
	p := store.Begin(w.id)
	p.Operator("9-old").Set([]byte{0}, []byte{1, 2, 3})
	if _, err := p.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	r, _ = store.Restore()
	old, _ := NewTables("9-old", Single(8), Spec{Name: "x", Keyed: true})
	if err := old.Restore(r.Operator("9-old"), nil); !errors.Is(err, ErrLayout) || !strings.Contains(err.Error(), "older version") {
		t.Errorf("restore of state without a catalog: %v, want ErrLayout saying it is of an older version", err)
	}
}

// TestSubtaskReader checks that a subtask's reader yields exactly the
// keyed entries of its key groups and every non-keyed entry, in key order.
func TestSubtaskReader(t *testing.T) {
	store, err := checkpoint.Open(t.TempDir(), checkpoint.Options{JobName: "job"})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Restore(); err != nil {
		t.Fatal(err)
	}
	p := store.Begin(1)
	sw := p.Operator("op")
	var all [][]byte
	for kg := range 10 {
		for _, rest := range []string{"", "\x00", "a"} {
			k := append(AppendKeyGroup(nil, kg), 1)
			k = append(k, rest...)
			all = append(all, k)
			sw.Set(k, []byte("v"))
		}
	}
	for _, k := range [][]byte{{nonKeyedTag, catalogTag}, {nonKeyedTag, 1, 0, 0, 'x'}, {nonKeyedTag, 1, 0, 3}} {
		all = append(all, k)
		sw.Set(k, []byte("v"))
	}
	if _, err := p.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	r, _ := store.Restore()
	for _, kgs := range []KeyGroupRange{{0, 10}, {3, 7}, {0, 1}, {9, 10}, {5, 5}} {
		var want, got []string
		for _, k := range all {
			kg, _ := KeyGroupPrefix(k)
			if k[0] >= nonKeyedTag || kgs.Contains(kg) {
				want = append(want, fmt.Sprintf("%x", k))
			}
		}
		slices.Sort(want)
		if err := SubtaskReader(r.Operator("op"), kgs).Scan(func(k, _ []byte) error {
			got = append(got, fmt.Sprintf("%x", k))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("range %v: read %v, want %v", kgs, got, want)
		}
	}
}
