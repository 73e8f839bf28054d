package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamsql/streamsql/exec"
)

// Config says which group to join and how to reach it.
type Config struct {
	// Group is the consumer group: the job's name.
	Group string
	// InstanceID is the process's stable identity in the group (static
	// membership: a process restarted with the same id takes its place
	// back without waiting for the session timeout).
	InstanceID string
	// Topics are the job's source topics: what the group assigns.
	Topics []string
	// Brokers and Sarama are the client settings of the source table
	// (kafka.GroupConfig).
	Brokers []string
	Sarama  *sarama.Config
	// Logger receives membership events (joins, assignments, rebalances).
	Logger *slog.Logger
	// OnAssign, when set, is called with each new assignment, before the
	// job for it starts (for SHOW JOBS and /metrics).
	OnAssign func(m *exec.Member)
	// OnMembers, when set, is called after OnAssign with the group's
	// members and the partitions each owns, as the leader assigned them.
	OnMembers func(members []GroupMember)
	// Fence, when set, ends the transactions a process that left the
	// group may have left open (see FenceFunc). It is called, for each
	// member gone since this process's previous assignment that owned a
	// partition this process now owns, before the new session fetches
	// the partitions' committed offsets.
	Fence FenceFunc
	// StateOffsets, when set, reports how far this process's local state
	// covers each partition, for the assignment (Strategy) to prefer the
	// process with the least to restore.
	StateOffsets StateOffsets
}

// FenceFunc aborts whatever transaction the process with instance id
// instance left open (it initialises that process's transactional ids):
// a process that died mid-transaction holds the group's offsets of its
// partitions unstable, and every read_committed reader of what it wrote,
// until the broker aborts the transaction at its timeout (15 min by
// default); a process that only paused (a zombie) is fenced, as the
// group's generation already fences its offset commits.
type FenceFunc func(ctx context.Context, instance string) error

// RunFunc runs the job for one assignment, m. It returns when the job
// ends by itself (its bounded sources are exhausted), fails, or ctx is
// cancelled (the process stops); when revoked is closed it stops the job
// at a checkpoint boundary, after the checkpoint's transaction committed,
// and returns nil: the partitions may move to another process only then.
type RunFunc func(ctx context.Context, m *exec.Member, revoked <-chan struct{}) error

// ErrFinished is returned by Run when a RunFunc returned without being
// revoked: the job ended by itself.
var ErrFinished = errors.New("cluster: the job finished")

// rebalanceTimeout bounds how long a process may take to stop its job at
// a checkpoint when the group rebalances; the group waits that long for
// it before it moves on without it.
const rebalanceTimeout = 60 * time.Second

// Run joins the group and runs the job for each assignment the group
// gives this process, until ctx is cancelled (then it leaves the group
// and returns nil), the job fails (its error), or ends (ErrFinished).
func Run(ctx context.Context, cfg Config, run RunFunc) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	log := cfg.Logger.With("group", cfg.Group, "instance", cfg.InstanceID)
	sc := *cfg.Sarama
	sc.Consumer.Offsets.AutoCommit.Enable = false
	strategy := NewStrategy(cfg.InstanceID, cfg.StateOffsets)
	strategy.fence, strategy.log = cfg.Fence, log
	// sarama's sticky strategy second: a group whose other processes run
	// an older build (which offered only it) still forms, on it.
	sc.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{strategy, sarama.NewBalanceStrategySticky()}
	sc.Consumer.Group.Rebalance.Timeout = rebalanceTimeout
	sc.Consumer.Group.InstanceId = cfg.InstanceID
	sc.Consumer.Return.Errors = true
	if err := sc.Validate(); err != nil {
		return fmt.Errorf("cluster: group %q: %w", cfg.Group, err)
	}
	var group sarama.ConsumerGroup
	backoff := 250 * time.Millisecond
	for {
		var err error
		if group, err = sarama.NewConsumerGroup(cfg.Brokers, cfg.Group, &sc); err == nil {
			break
		}
		log.Warn("cannot reach the group's brokers; retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 4*time.Second)
	}
	defer group.Close()
	go func() {
		for err := range group.Errors() {
			log.Warn("consumer group", "err", err)
		}
	}()
	h := &handler{cfg: cfg, log: log, run: run, group: group, strategy: strategy}
	for {
		cctx, cancel := context.WithCancel(ctx)
		h.abort = cancel
		err := group.Consume(cctx, cfg.Topics, h)
		cancel()
		if jerr := h.takeErr(); jerr != nil {
			if errors.Is(jerr, ErrFinished) || !Fenced(jerr) {
				return jerr
			}
			log.Warn("the group fenced this process's transaction; rejoining", "err", jerr)
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if errors.Is(err, sarama.ErrClosedConsumerGroup) {
				return fmt.Errorf("cluster: group %q: %w", cfg.Group, err)
			}
			log.Warn("consumer group session ended; rejoining", "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
}

// Fenced reports whether err says the group moved on without this process
// (a newer generation, or another process in its place): its
// transaction aborted, and it rejoins.
func Fenced(err error) bool {
	for _, k := range []sarama.KError{sarama.ErrIllegalGeneration, sarama.ErrUnknownMemberId, sarama.ErrFencedInstancedId,
		sarama.ErrRebalanceInProgress, sarama.ErrProducerFenced, sarama.ErrInvalidProducerEpoch} {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}

// handler runs the job of one session (generation) of the group.
type handler struct {
	cfg   Config
	log   *slog.Logger
	run   RunFunc
	abort context.CancelFunc // ends the Consume call (the job failed)
	group sarama.ConsumerGroup
	// strategy knows the group's members after each assignment.
	strategy *Strategy

	revoked chan struct{}
	done    chan struct{}

	mu  sync.Mutex
	err error
}

func (h *handler) setErr(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err == nil {
		h.err = err
	}
}

func (h *handler) takeErr() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	err := h.err
	h.err = nil
	return err
}

// Setup implements sarama.ConsumerGroupHandler: it starts the job for the
// session's claims. The group's own fetching is paused: the job's sources
// read the partitions themselves.
func (h *handler) Setup(sess sarama.ConsumerGroupSession) error {
	m := &exec.Member{Group: h.cfg.Group, Generation: sess.GenerationID(), MemberID: sess.MemberID(),
		InstanceID: h.cfg.InstanceID, Partitions: map[string][]int32{}}
	for t, ps := range sess.Claims() {
		ps = slices.Clone(ps)
		slices.Sort(ps)
		m.Partitions[t] = ps
	}
	h.log.Info("assigned", "generation", m.Generation, "member", m.MemberID, "partitions", m.Partitions)
	if h.cfg.OnAssign != nil {
		h.cfg.OnAssign(m)
	}
	if h.cfg.OnMembers != nil {
		h.cfg.OnMembers(h.strategy.Members())
	}
	h.revoked, h.done = make(chan struct{}), make(chan struct{})
	revoked, done := h.revoked, h.done
	ctx := context.WithoutCancel(sess.Context())
	go func() {
		defer close(done)
		// Also with no partitions: the job opens its transactional sinks,
		// which fences (aborts) the transaction a previous run of this
		// process left open. The group's generation does not: that
		// transaction holds offsets of partitions other processes own
		// now, which they would wait for until the broker's transaction
		// timeout.
		err := h.run(ctx, m, revoked)
		select {
		case <-revoked:
		default:
			if err == nil {
				err = ErrFinished
			}
		}
		if err != nil {
			h.setErr(err)
			h.abort()
		}
	}()
	return nil
}

// ConsumeClaim implements sarama.ConsumerGroupHandler: it holds the claim
// until the session ends; the job reads the partition itself.
func (h *handler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	h.group.Pause(map[string][]int32{claim.Topic(): {claim.Partition()}})
	select {
	case <-sess.Context().Done():
	case <-h.done:
	}
	return nil
}

// Cleanup implements sarama.ConsumerGroupHandler: the session ends (a
// rebalance, or the process leaves): the job stops at a checkpoint before
// the partitions are released.
func (h *handler) Cleanup(sess sarama.ConsumerGroupSession) error {
	start := time.Now()
	close(h.revoked)
	<-h.done
	h.log.Info("revoked", "generation", sess.GenerationID(), "stopped_in", time.Since(start).Round(time.Millisecond))
	return nil
}
