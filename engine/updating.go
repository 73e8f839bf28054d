package engine

import (
	"github.com/streamsql/streamsql/plan"
	"github.com/streamsql/streamsql/planner"
)

// updatingOptions reads the table.exec.* settings of the updating
// operators (checked by SET): mini-batch, state TTL, and the emit
// strategies of window aggregations.
func (e *Engine) updatingOptions(settings map[string]string) planner.UpdatingOptions {
	var o planner.UpdatingOptions
	if settingBool(settings, "table.exec.mini-batch.enabled") {
		o.MiniBatch = plan.MiniBatch{Size: e.settingInt(settings, "table.exec.mini-batch.size")}
		if d := e.settingDuration(settings, "table.exec.mini-batch.allow-latency"); d > 0 {
			o.MiniBatch.Latency = d
		}
	}
	if d := e.settingDuration(settings, "table.exec.state.ttl"); d > 0 {
		o.StateTTL = d
	}
	if d := e.settingDuration(settings, "table.exec.emit.allow-lateness"); d > 0 {
		o.AllowLateness = d
	}
	if settingBool(settings, "table.exec.emit.early-fire.enabled") {
		switch _, set := settings["table.exec.emit.early-fire.delay"]; {
		case !set:
			o.EarlyFire = -1 // a planning error for a window aggregation
		default:
			// '0' (Flink: fire on every row) fires after every batch.
			o.EarlyFire = max(e.settingDuration(settings, "table.exec.emit.early-fire.delay"), 1)
		}
	}
	if settingBool(settings, "table.exec.emit.late-fire.enabled") {
		o.LateFire = true
		o.LateFireDelay = -1 // a planning error for a window aggregation
		if _, set := settings["table.exec.emit.late-fire.delay"]; set {
			o.LateFireDelay = e.settingDuration(settings, "table.exec.emit.late-fire.delay")
		}
	}
	return o
}

// settingDuration reads a duration setting checked by checkInterval, in
// ms: the value in settings, else the default; 0 or off is -1.
func (e *Engine) settingDuration(settings map[string]string, key string) int64 {
	v, ok := settings[key]
	if !ok {
		k, _ := settingKey(key)
		v = e.defaultSetting(k)
	}
	d, err := parseDuration(v)
	if err != nil || d < 0 {
		return -1
	}
	return d.Milliseconds()
}
