package checkpoint

import (
	"sync"
	"time"
)

// Coordinator decides when the runtime injects the next checkpoint
// barrier. The runtime polls Due at batch boundaries; Trigger asks for a
// checkpoint now (for a savepoint, say), from any goroutine. It starts no
// goroutine and reads no clock but the one it is given.
type Coordinator struct {
	interval time.Duration

	mu        sync.Mutex
	next      time.Time
	triggered bool
}

// NewCoordinator returns a coordinator that is due every interval, the
// first time one interval after clock's now. An interval <= 0 disables
// periodic checkpoints: only Trigger makes it due.
func NewCoordinator(interval time.Duration, clock Clock) *Coordinator {
	if clock == nil {
		clock = systemClock{}
	}
	return &Coordinator{interval: interval, next: clock.Now().Add(interval)}
}

// Due reports whether a barrier should be injected at now. When it
// returns true it consumes any Trigger and schedules the next periodic
// checkpoint one interval after now; the caller must then take the
// checkpoint.
func (c *Coordinator) Due(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.triggered && (c.interval <= 0 || now.Before(c.next)) {
		return false
	}
	c.triggered = false
	if c.interval > 0 {
		c.next = now.Add(c.interval)
	}
	return true
}

// Trigger makes the next Due return true.
func (c *Coordinator) Trigger() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.triggered = true
}
