package exec

// watermarkValve combines the watermarks of several inputs into one output
// watermark, with Flink's idleness rule (its StatusWatermarkValve). The
// inputs are a source's splits today (Kafka partitions, see watermarkGen);
// the inputs of a multi-input task will be too.
//
//   - The output is the minimum watermark over the inputs that are active
//     and aligned. An idle input does not hold event time back.
//   - When every input is idle, the output advances to the maximum
//     watermark among all inputs: nothing is coming, so event time moves on
//     to what the most advanced input has seen (without this rule, keyless
//     records that land on one partition of four never close their last
//     windows once every partition has gone quiet).
//   - An input that becomes active again counts in the minimum only once
//     its watermark has caught up with the output (it is aligned): its rows
//     older than the output are late, and the output never goes backwards.
//
// The output only increases. A valve is not safe for concurrent use.
type watermarkValve struct {
	in  []valveInput
	out Watermark
}

// valveInput is the status of one input of a valve.
type valveInput struct {
	wm   Watermark
	idle bool
	// aligned: the input counts in the minimum. An active input is
	// aligned unless it became active with a watermark behind the output
	// and has not caught up yet.
	aligned bool
}

// newWatermarkValve returns a valve with n active inputs, at MinWatermark.
func newWatermarkValve(n int) *watermarkValve {
	v := &watermarkValve{out: MinWatermark}
	v.grow(n, false)
	return v
}

// output returns the valve's current output watermark.
func (v *watermarkValve) output() Watermark { return v.out }

// inputs returns the number of inputs.
func (v *watermarkValve) inputs() int { return len(v.in) }

// grow adds inputs until there are n, each idle or active as asked, at
// MinWatermark. An active input holds the output where it is (it cannot go
// back) until it produces a watermark or goes idle.
func (v *watermarkValve) grow(n int, idle bool) {
	for len(v.in) < n {
		v.in = append(v.in, valveInput{wm: MinWatermark, idle: idle, aligned: !idle})
	}
}

// restoreInput sets input i, active, to watermark wm, restored from a
// checkpoint before the valve is used; the output is recomputed only when
// the next input changes, so that inputs added after the restore still
// hold it.
func (v *watermarkValve) restoreInput(i int, wm Watermark) {
	v.in[i] = valveInput{wm: wm, aligned: true}
}

// isIdle reports whether input i is idle.
func (v *watermarkValve) isIdle(i int) bool { return v.in[i].idle }

// inputWatermark records watermark wm of input i (which becomes active if it
// was idle) and returns the output. An input's watermark never goes
// backwards: a lower wm than it had is ignored (but the input is active).
func (v *watermarkValve) inputWatermark(i int, wm Watermark) Watermark {
	v.activate(i)
	in := &v.in[i]
	if wm > in.wm {
		in.wm = wm
		if !in.aligned && wm >= v.out {
			in.aligned = true
		}
	}
	return v.recompute()
}

// setActive marks input i active and returns the output: an input that
// wakes up with a watermark not behind the output counts in the minimum
// again (aligned), which may advance the output when no other active input
// counted; one behind it waits until it catches up.
func (v *watermarkValve) setActive(i int) Watermark {
	if v.activate(i) {
		return v.recompute()
	}
	return v.out
}

// activate marks input i active, aligned if its watermark is not behind
// the output, and reports whether it was idle.
func (v *watermarkValve) activate(i int) bool {
	in := &v.in[i]
	if !in.idle {
		return false
	}
	in.idle = false
	in.aligned = in.wm >= v.out
	return true
}

// setIdle marks input i idle and returns the output, which may advance:
// the input no longer holds it back, and if every input is now idle the
// output moves to the maximum watermark among them.
func (v *watermarkValve) setIdle(i int) Watermark {
	in := &v.in[i]
	if in.idle {
		return v.out
	}
	in.idle, in.aligned = true, false
	return v.recompute()
}

// recompute derives the output from the inputs: the minimum over the
// aligned active inputs, or, when all inputs are idle, the maximum over
// all of them; never below the previous output.
func (v *watermarkValve) recompute() Watermark {
	lo, hi := MaxWatermark, MinWatermark
	anyAligned, allIdle := false, true
	for _, in := range v.in {
		hi = max(hi, in.wm)
		if in.idle {
			continue
		}
		allIdle = false
		if in.aligned {
			lo, anyAligned = min(lo, in.wm), true
		}
	}
	switch {
	case allIdle && len(v.in) > 0:
		v.out = max(v.out, hi)
	case anyAligned:
		v.out = max(v.out, lo)
	}
	return v.out
}

// allIdle reports whether the valve has inputs and every one is idle.
func (v *watermarkValve) allIdle() bool {
	for _, in := range v.in {
		if !in.idle {
			return false
		}
	}
	return len(v.in) > 0
}
