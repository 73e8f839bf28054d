package window

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/streamsql/streamsql/checkpoint"
	"github.com/streamsql/streamsql/exec"
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/types"
)

// Emit strategies of the window aggregation, as Flink's
// table.exec.emit.allow-lateness and table.exec.emit.early-fire.*: with
// either, the output is a changelog that updates rows emitted before.
//
//   - Allowed lateness L (plan.WindowAgg.AllowLateness): a window that
//     fired keeps its groups until the watermark passes window_end - 1 + L.
//     A row for such a window is not late: at the end of its batch the
//     operator emits, for each group the batch changed, -U (the row
//     emitted before) then +U (the new result), or +I for a group new to
//     the window (all -U rows of a batch come first). Rows later than that
//     are late: dropped and counted.
//   - Early firing every D of processing time (plan.WindowAgg.EarlyFire,
//     earlyAgg): D after the first change since the last early firing, the
//     groups of open windows that changed are emitted, +I the first time,
//     then -U/+U. When the window fires on the watermark only the groups
//     that changed since their early result are emitted again (-U/+U).
//     Early results are also emitted at every checkpoint barrier, so that
//     a checkpoint's accumulators are what was emitted.
//   - Late firing every D of processing time (plan.WindowAgg.LateFire,
//     with allowed lateness; timedAgg): the updates late rows make to
//     fired windows are emitted D after the first one since the last late
//     firing, instead of at the end of each batch: a group changed by
//     several late rows in between emits one -U/+U. Pending late updates
//     are also emitted at every checkpoint barrier and before a window
//     they change is released (Flink's cleanup would lose them).
//
//   - SESSION windows (session.go): a fired session stays in its key's
//     list for the allowed lateness, so late rows merge into it. A row
//     that changes a session's bounds makes its row another one: its
//     update is -D of the row emitted before (with the bounds it had)
//     and +I, not -U/+U. A session merged away after it was emitted is
//     retracted (-D) in the batch that merged it; a fired one that a row
//     extends past the watermark is open again: without early firing its
//     row is retracted at once and it fires again later.
//
// What a group emitted last is kept as its accumulators' encoding (prev);
// a -U row decodes it into a scratch slot. Nothing beyond the
// accumulators is checkpointed: after a restore a group of a fired window
// (or, with early firing, any group) has emitted its accumulators.

// markChanged records that slot s changed; fired says its window has
// fired (a late row within the allowed lateness).
func (o *windowAggOp) markChanged(s int32, fired bool) {
	switch {
	case fired:
		o.lateChanges = append(o.lateChanges, s)
	case o.earlyFire > 0:
		o.changes = append(o.changes, s)
	default:
		return // an open window's group, emitted when it fires
	}
	o.changed[s] = true
}

// retain keeps slot s of the fired window ending at end until the
// watermark passes end - 1 + lateness.
func (o *windowAggOp) retain(end int64, s int32) {
	if o.retained == nil {
		o.retained = make(map[int64][]int32)
	}
	ss, ok := o.retained[end]
	if !ok {
		o.retEnds.push(end)
	}
	o.retained[end] = append(ss, s)
}

// expireRetained frees the fired windows the watermark has passed by the
// allowed lateness, first emitting the late updates still pending (late
// firing) when it frees any.
func (o *windowAggOp) expireRetained(ctx context.Context, out exec.Emitter) error {
	wm := int64(o.wm)
	expires := func() bool {
		return len(o.retEnds) > 0 && (o.wm == exec.MaxWatermark || o.utc(o.retEnds[0])-1+o.lateness <= wm)
	}
	if len(o.lateChanges) > 0 && expires() {
		if err := o.emitLateChanges(ctx, out); err != nil {
			return err
		}
	}
	for expires() {
		end := o.retEnds.pop()
		for _, s := range o.retained[end] {
			o.table.del(end, o.slotKey[s], o.slotNull[s])
			o.freeSlot(s)
		}
		delete(o.retained, end)
	}
	return nil
}

// fireUpdating fires the window ending at end, whose slots ss are sorted
// by key: it emits the groups not emitted yet (+I) or changed since their
// early result (-U/+U), then keeps the window for late rows or frees it.
func (o *windowAggOp) fireUpdating(ctx context.Context, out exec.Emitter, end int64, ss []int32) error {
	emit := o.firing[:0]
	for _, s := range ss {
		if o.prev[s] == nil || o.changed[s] {
			emit = append(emit, s)
		}
	}
	o.firing = emit
	if err := o.emitUpdates(ctx, out, emit); err != nil {
		return err
	}
	if o.lateness > 0 && o.wm != exec.MaxWatermark {
		for _, s := range ss {
			o.retain(end, s)
		}
		return nil
	}
	for _, s := range ss {
		o.table.del(end, o.slotKey[s], o.slotNull[s])
		o.freeSlot(s)
	}
	return nil
}

// emitLateChanges emits the groups of fired windows that late rows
// changed, ordered by window end, then key. A session listed may have been
// merged away (freed, perhaps reused) or opened again since: only live,
// changed, fired slots are emitted, once.
func (o *windowAggOp) emitLateChanges(ctx context.Context, out exec.Emitter) error {
	ss := o.lateChanges
	if o.w.Kind == plan.Session {
		ss = ss[:0]
		for _, s := range o.lateChanges {
			if o.live[s] && o.changed[s] && o.fired[s] {
				o.changed[s] = false // dedupe
				ss = append(ss, s)
			}
		}
		for _, s := range ss {
			o.changed[s] = true
		}
	}
	o.sortByWindow(ss)
	err := o.emitUpdates(ctx, out, ss)
	o.lateChanges = ss[:0]
	return err
}

// fireEarly emits the changed groups of open windows (early firing).
func (o *windowAggOp) fireEarly(ctx context.Context, out exec.Emitter) error {
	ss := o.changes[:0]
	for _, s := range o.changes {
		// Freed (its window fired since), or listed twice.
		if o.live[s] && o.changed[s] {
			o.changed[s] = false // dedupe; emitUpdates clears it anyway
			ss = append(ss, s)
		}
	}
	for _, s := range ss {
		o.changed[s] = true
	}
	o.sortByWindow(ss)
	err := o.emitUpdates(ctx, out, ss)
	o.changes = ss[:0]
	return err
}

// sortByWindow orders slots by window end, then start, then key.
func (o *windowAggOp) sortByWindow(ss []int32) {
	slices.SortFunc(ss, func(a, b int32) int {
		if c := cmp.Compare(o.slotEnd[a], o.slotEnd[b]); c != 0 {
			return c
		}
		if c := cmp.Compare(o.slotStart[a], o.slotStart[b]); c != 0 {
			return c
		}
		return o.compareSlotKeys(a, b)
	})
}

// emitUpdates emits the rows of slots ss as updates: first -U rows of
// those emitted before (their previous values), then +U rows of those and
// +I rows of the others (their current values); then records what each
// emitted.
func (o *windowAggOp) emitUpdates(ctx context.Context, out exec.Emitter, ss []int32) error {
	if len(ss) == 0 {
		return nil
	}
	session := o.w.Kind == plan.Session
	moved := func(s int32) bool { // a session's bounds changed since it was emitted
		return session && (o.prevStart[s] != o.slotStart[s] || o.prevEnd[s] != o.slotEnd[s])
	}
	kinds := o.kindBuf[:0]
	for _, s := range ss {
		if o.prev[s] == nil {
			continue
		}
		if err := o.decodePrev(s); err != nil {
			return err
		}
		k := types.UpdateBefore
		if session {
			if err := o.appendRowAt(s, o.scratch, o.prevStart[s], o.prevEnd[s]); err != nil {
				return err
			}
			if moved(s) {
				k = types.Delete // another row (its window changed)
			}
		} else if err := o.appendRow(s, o.scratch); err != nil {
			return err
		}
		kinds = append(kinds, k)
		if len(kinds) == windowOutputRows {
			if err := o.flushKinds(ctx, out, kinds); err != nil {
				return err
			}
			kinds = kinds[:0]
		}
	}
	if err := o.flushKinds(ctx, out, kinds); err != nil {
		return err
	}
	kinds = kinds[:0]
	for _, s := range ss {
		if err := o.appendRow(s, s); err != nil {
			return err
		}
		k := types.Insert
		if o.prev[s] != nil && !moved(s) {
			k = types.UpdateAfter
		}
		kinds = append(kinds, k)
		if len(kinds) == windowOutputRows {
			if err := o.flushKinds(ctx, out, kinds); err != nil {
				return err
			}
			kinds = kinds[:0]
		}
	}
	if err := o.flushKinds(ctx, out, kinds); err != nil {
		return err
	}
	o.kindBuf = kinds[:0]
	for _, s := range ss {
		o.prev[s] = o.encodeAcc(o.prev[s][:0], s)
		o.changed[s] = false
		if session {
			o.prevStart[s], o.prevEnd[s] = o.slotStart[s], o.slotEnd[s]
		}
	}
	return nil
}

// flushKinds emits the rows appended to o.rb with their kinds.
func (o *windowAggOp) flushKinds(ctx context.Context, out exec.Emitter, kinds []types.RowKind) error {
	if len(kinds) == 0 {
		return nil
	}
	rec := o.rb.NewRecord()
	defer rec.Release()
	ka := exec.NewRowKinds(o.alloc, kinds)
	defer ka.Release()
	withKinds := exec.WithRowKinds(rec, ka)
	defer withKinds.Release()
	o.m.RecordsOut.Add(rec.NumRows())
	return out.Emit(ctx, withKinds)
}

// encodeAcc appends slot s's accumulators to buf.
func (o *windowAggOp) encodeAcc(buf []byte, s int32) []byte {
	for _, a := range o.aggs {
		buf = a.encode(buf, s)
	}
	if buf == nil {
		buf = []byte{} // emitted, even without aggregates
	}
	return buf
}

// decodePrev loads what slot s emitted last into the scratch slot.
func (o *windowAggOp) decodePrev(s int32) error {
	if o.scratch < 0 {
		o.scratch = o.growSlot()
	}
	rest := o.prev[s]
	for _, a := range o.aggs {
		a.reset(o.scratch)
		var err error
		if rest, err = a.decode(rest, o.scratch); err != nil {
			return fmt.Errorf("exec: window aggregation %q: %w", o.id, err)
		}
	}
	return nil
}

// restoreEmitted marks, after a restore, what the restored groups have
// emitted (see the emit strategies above): the fired windows' groups, and
// with early firing every group, emitted their accumulators.
func (o *windowAggOp) restoreEmitted() {
	if !o.updating {
		return
	}
	wm := int64(o.wm)
	if o.w.Kind == plan.Session {
		// A session the watermark has passed fired; with early firing
		// every session emitted its accumulators (at the barrier).
		for i, live := range o.live {
			s := int32(i)
			if !live {
				continue
			}
			o.fired[s] = o.slotEnd[s]-1 <= wm
			if o.fired[s] {
				o.minExpire = min(o.minExpire, o.slotEnd[s]-1+o.lateness)
			}
			if o.fired[s] || o.earlyFire > 0 {
				o.prev[s] = o.encodeAcc(nil, s)
				o.prevStart[s], o.prevEnd[s] = o.slotStart[s], o.slotEnd[s]
			}
		}
		return
	}
	if o.lateness > 0 {
		for len(o.winEnds) > 0 && o.utc(o.winEnds[0])-1 <= wm {
			end := o.winEnds.pop()
			for _, s := range o.wins[end] {
				o.retain(end, s)
			}
			delete(o.wins, end)
		}
	}
	for s, live := range o.live {
		if live && (o.earlyFire > 0 || o.slotEnd[s]-1 <= wm) {
			o.prev[s] = o.encodeAcc(nil, int32(s))
		}
	}
}

// timedAgg is the window aggregation with early or late firing: it fires
// on processing-time timers too (exec.ProcessingTimer).
type timedAgg struct {
	*windowAggOp
	clock exec.Clock
	next  time.Time // the next early firing; zero when nothing changed
	late  time.Time // the next late firing; zero when no late update is pending
}

var (
	_ exec.Operator        = (*timedAgg)(nil)
	_ exec.ProcessingTimer = (*timedAgg)(nil)
)

// OnBatch implements exec.Operator: the first change after a firing sets
// the next one.
func (e *timedAgg) OnBatch(ctx context.Context, in int, rec arrow.Record, out exec.Emitter) error {
	if err := e.windowAggOp.OnBatch(ctx, in, rec, out); err != nil {
		return err
	}
	e.arm()
	return nil
}

// arm sets the timers of the firings that have become due to be set.
func (e *timedAgg) arm() {
	if e.earlyFire > 0 && e.next.IsZero() && len(e.changes) > 0 {
		e.next = e.clock.Now().Add(time.Duration(e.earlyFire) * time.Millisecond)
	}
	switch {
	case len(e.lateChanges) == 0:
		e.late = time.Time{} // emitted (a barrier or a release)
	case e.lateFire > 0 && e.late.IsZero():
		e.late = e.clock.Now().Add(time.Duration(e.lateFire) * time.Millisecond)
	}
}

// OnWatermark implements exec.Operator.
func (e *timedAgg) OnWatermark(ctx context.Context, wm exec.Watermark, out exec.Emitter) error {
	err := e.windowAggOp.OnWatermark(ctx, wm, out)
	e.arm()
	return err
}

// OnBarrier implements exec.Operator.
func (e *timedAgg) OnBarrier(ctx context.Context, b exec.Barrier, sw checkpoint.StateWriter, out exec.Emitter) error {
	err := e.windowAggOp.OnBarrier(ctx, b, sw, out)
	e.next = time.Time{}
	e.arm()
	return err
}

// NextTimer implements exec.ProcessingTimer.
func (e *timedAgg) NextTimer() (time.Time, bool) {
	at := e.next
	if at.IsZero() || !e.late.IsZero() && e.late.Before(at) {
		at = e.late
	}
	return at, !at.IsZero()
}

// OnTimer implements exec.ProcessingTimer: an early firing, a late one,
// or both, when due.
func (e *timedAgg) OnTimer(ctx context.Context, now time.Time, out exec.Emitter) error {
	if !e.next.IsZero() && !now.Before(e.next) {
		e.next = time.Time{}
		if err := e.fireEarly(ctx, out); err != nil {
			return err
		}
	}
	if !e.late.IsZero() && !now.Before(e.late) {
		e.late = time.Time{}
		if err := e.emitLateChanges(ctx, out); err != nil {
			return err
		}
	}
	e.arm()
	return nil
}
