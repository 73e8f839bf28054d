package join

// The helpers of the package's tests that its external tests (which may
// import the engine, and so internal/difftest) share.

type (
	MemStore  = memStore
	Collector = collector
	IvRow     = ivRow
)

var (
	IvLeft, IvRight        = ivLeft, ivRight
	IvBatch                = ivBatch
	NewIntervalJoinForTest = newIntervalJoin
)

func NewMemStore() *MemStore { return &memStore{m: map[string]string{}} }

// Lines returns the rows the collector received.
func (c *collector) Lines() []string { return c.rows }
