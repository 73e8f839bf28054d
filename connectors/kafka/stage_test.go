package kafka

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
	"github.com/streamsql/streamsql/exec"
)

// TestEnsureTopic: an internal topic is created once, found again with
// the same partition count, and refused with another.
func TestEnsureTopic(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{})
	opts := map[string]string{"properties.bootstrap.servers": b.Addr()}
	for i := 0; i < 2; i++ {
		if err := EnsureTopic(opts, "job-op-changelog", 3, true); err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if n, err := PartitionCount(opts, "job-op-changelog"); err != nil || n != 3 {
		t.Fatalf("partitions: %d, %v", n, err)
	}
	err := EnsureTopic(opts, "job-op-changelog", 4, true)
	if err == nil || !strings.Contains(err.Error(), "exists with 3 partitions, not 4") {
		t.Fatalf("another partition count: %v", err)
	}
}

// TestMarksMetadata: the markers a repartition partition's offset carries
// survive the committed offset's metadata; other metadata gives none, bad
// metadata an error.
func TestMarksMetadata(t *testing.T) {
	marks := map[string]exec.Watermark{"events/0": 1000, "events/7": -5, "other/2": exec.MinWatermark}
	got, err := decodeMarks(encodeMarks(marksState(marks)))
	if err != nil || len(got) != len(marks) {
		t.Fatalf("decode: %v, %v", got, err)
	}
	for k, v := range marks {
		if got[k] != v {
			t.Fatalf("%s: %d, want %d", k, got[k], v)
		}
	}
	if m, err := decodeMarks(""); err != nil || m != nil {
		t.Fatalf("no metadata: %v, %v", m, err)
	}
	if _, err := decodeMarks(marksPrefix + "events/0=zz"); err == nil {
		t.Fatal("bad metadata accepted")
	}
	// A source partition's own watermark.
	for _, wm := range []exec.Watermark{0, -5, 1 << 40, exec.MinWatermark} {
		if got, ok, err := decodeSplitWatermark(encodeSplitWatermark(wm)); err != nil || !ok || got != wm {
			t.Fatalf("partition watermark %d: %d, %v, %v", wm, got, ok, err)
		}
	}
	if _, ok, err := decodeSplitWatermark(encodeMarks(marksState(marks))); ok || err != nil {
		t.Fatalf("markers read as a partition watermark: %v, %v", ok, err)
	}
	if _, _, err := decodeSplitWatermark(splitWatermarkPrefix + "12"); err == nil {
		t.Fatal("bad partition watermark accepted")
	}
}

// TestCurrentPositions: a changelog partition's end and the group's
// committed offset of its repartition partition (none, then the one a
// transaction committed).
func TestCurrentPositions(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{})
	for topic, n := range map[string]int{"r": 2, "c": 2} {
		if err := b.CreateTopic(topic, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.ProduceJSON("c", 1, `{"a":1}`, `{"a":2}`, `{"a":3}`); err != nil {
		t.Fatal(err)
	}
	opts := map[string]string{"properties.bootstrap.servers": b.Addr()}
	ctx := context.Background()
	got, err := CurrentPositions(ctx, opts, "g", "r", "c", []int32{0, 1})
	if want := map[int32]ChangelogPosition{0: {End: 0, Offset: -1}, 1: {End: 3, Offset: -1}}; err != nil || !maps.Equal(got, want) {
		t.Fatalf("positions: %v, %v; want %v", got, err, want)
	}
	c := kafkatest.Config()
	c.Producer.Idempotent = true
	c.Producer.Transaction.ID = memberTxnID("positions", "job", "p0")
	c.Net.MaxOpenRequests = 1
	p, err := sarama.NewAsyncProducer(b.Addrs, c)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	offsets := func(off int64) {
		t.Helper()
		if err := p.BeginTxn(); err != nil {
			t.Fatal(err)
		}
		if err := p.AddOffsetsToTxn(map[string][]*sarama.PartitionOffsetMetadata{"r": {{Partition: 0, Offset: off, LeaderEpoch: -1}}}, "g"); err != nil {
			t.Fatal(err)
		}
	}
	offsets(3)
	if err := p.CommitTxn(); err != nil {
		t.Fatal(err)
	}
	got, err = CurrentPositions(ctx, opts, "g", "r", "c", []int32{0})
	if want := map[int32]ChangelogPosition{0: {End: 0, Offset: 3}}; err != nil || !maps.Equal(got, want) {
		t.Fatalf("positions after a commit: %v, %v; want %v", got, err, want)
	}
	// The process dies in a transaction that holds the offset: its next
	// run fences its transactional id before it joins the group, which
	// aborts the transaction, so the committed offset is readable at once
	// (without the fence: at the transaction timeout).
	pendingOffset(t, b.Addrs, memberTxnID("positions", "job", "p0"), "g", "r", 0, 5)
	sinkOpts := map[string]string{"properties.bootstrap.servers": b.Addr(), "sink.delivery-guarantee": "exactly-once",
		"sink.transactional-id-prefix": "positions"}
	if err := FenceMember(ctx, sinkOpts, "job", "p0"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		var err error
		if got, err = CurrentPositions(ctx, opts, "g", "r", "c", []int32{0}); err == nil {
			if want := map[int32]ChangelogPosition{0: {End: 0, Offset: 3}}; !maps.Equal(got, want) {
				err = fmt.Errorf("positions after the fence: %v; want %v", got, want)
			}
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the fenced process's transaction still holds the offset after 60 s")
	}
	// A sink that is not exactly-once has no transaction to fence.
	if err := FenceMember(ctx, map[string]string{"properties.bootstrap.servers": b.Addr()}, "job", "p0"); err != nil {
		t.Fatal(err)
	}
}

// pendingOffset leaves, as a process killed while committing does, an
// open transaction of txnID whose offset commit of topic/partition
// reached the group's coordinator.
func pendingOffset(t *testing.T, addrs []string, txnID, group, topic string, partition int32, off int64) {
	t.Helper()
	client, err := sarama.NewClient(addrs, kafkatest.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	states, err := admin.(sarama.TransactionClusterAdmin).DescribeTransactions([]string{txnID})
	if err != nil {
		t.Fatal(err)
	}
	st := states[txnID]
	tc, err := client.TransactionCoordinator(txnID)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := tc.AddOffsetsToTxn(&sarama.AddOffsetsToTxnRequest{TransactionalID: txnID, ProducerID: st.ProducerID,
		ProducerEpoch: st.ProducerEpoch, GroupID: group}); err != nil || r.Err != sarama.ErrNoError {
		t.Fatalf("add offsets to the transaction: %v, %v", r, err)
	}
	gc, err := client.Coordinator(group)
	if err != nil {
		t.Fatal(err)
	}
	r, err := gc.TxnOffsetCommit(&sarama.TxnOffsetCommitRequest{TransactionalID: txnID, GroupID: group, ProducerID: st.ProducerID,
		ProducerEpoch: st.ProducerEpoch, Topics: map[string][]*sarama.PartitionOffsetMetadata{topic: {{Partition: partition, Offset: off, LeaderEpoch: -1}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, pe := range r.Topics[topic] {
		if pe.Err != sarama.ErrNoError {
			t.Fatalf("transactional offset commit: %v", pe.Err)
		}
	}
}

// TestIdleMarkers: a repartition partition's watermark is the minimum
// over the upstream partitions that are not idle; all idle, the maximum;
// an upstream partition that wakes up counts at once, holding the
// watermark where it is until it catches up (it never goes back); the
// state survives the committed offset's metadata, and an upstream
// partition not heard from holds it (none) rather than count as idle.
func TestIdleMarkers(t *testing.T) {
	st := &stageSource{upstream: []string{"ev/0", "ev/1"}}
	sp := &split{}
	mark := func(u string, wm exec.Watermark, idle bool) {
		t.Helper()
		msg := &sarama.ConsumerMessage{Key: []byte(u), Headers: []*sarama.RecordHeader{{Key: []byte(markerHeader), Value: binary.BigEndian.AppendUint64(nil, uint64(wm))}}}
		if idle {
			msg.Headers = append(msg.Headers, &sarama.RecordHeader{Key: []byte(idleHeader)})
		}
		if !st.marker(sp, msg) {
			t.Fatal("marker not recognized")
		}
	}
	want := func(step string, wm exec.Watermark, ok bool) {
		t.Helper()
		got, gotOK := st.watermark(sp)
		if gotOK != ok || ok && got != wm {
			t.Fatalf("%s: watermark %d (%v), want %d (%v)", step, got, gotOK, wm, ok)
		}
	}
	mark("ev/0", 5000, false)
	want("ev/1 not heard from", 0, false)
	mark("ev/1", exec.MinWatermark, true)
	want("ev/1 idle without a watermark", 5000, true)
	mark("ev/0", 9000, false)
	want("ev/1 still idle", 9000, true)
	mark("ev/1", 3000, false)
	want("ev/1 woke up behind", 9000, true)
	mark("ev/0", 12000, false)
	want("ev/1 holds it", 9000, true)
	mark("ev/1", 10000, false)
	want("ev/1 caught up", 10000, true)
	mark("ev/0", 14000, true)
	mark("ev/1", 11000, true)
	want("all idle", 14000, true)
	mark("ev/1", 11000, false)
	want("ev/1 woke up", 14000, true)

	// A process that takes the partition over goes on from the same state.
	restored, err := decodeMarks(encodeMarks(marksState(sp.marks)))
	if err != nil {
		t.Fatal(err)
	}
	sp2 := &split{marks: restored}
	if got, ok := st.watermark(sp2); !ok || got != 14000 {
		t.Fatalf("restored: %d, %v, want 14000", got, ok)
	}
	sp = sp2
	mark("ev/0", 20000, true)
	want("restored, ev/1 active", 14000, true)
}

// TestReadChangelog: a changelog partition holding committed
// transactions, aborted ones between and after them, and tombstones, over
// more than one fetch: exactly the committed records come back, in order,
// and the read ends at the partition's stable end without waiting for a
// quiet spell.
func TestReadChangelog(t *testing.T) {
	b := kafkatest.StartT(t, kafkatest.Options{})
	for topic, n := range map[string]int{"r": 1, "c": 1} {
		if err := b.CreateTopic(topic, n); err != nil {
			t.Fatal(err)
		}
	}
	c := kafkatest.Config()
	c.Producer.Idempotent = true
	c.Producer.Transaction.ID = "changelog-writer"
	c.Producer.Return.Successes = true
	c.Net.MaxOpenRequests = 1
	p, err := sarama.NewSyncProducer(b.Addrs, c)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	big := strings.Repeat("v", 1000)
	var want []string
	txn := func(commit bool, keys ...string) {
		t.Helper()
		if err := p.BeginTxn(); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			var v sarama.Encoder
			val := "<nil>"
			if !strings.HasPrefix(k, "del-") {
				v, val = sarama.StringEncoder(k+big), k
			}
			if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: "c", Key: sarama.StringEncoder(strings.TrimPrefix(k, "del-")), Value: v}); err != nil {
				t.Fatal(err)
			}
			if commit {
				want = append(want, strings.TrimPrefix(k, "del-")+"="+val)
			}
		}
		if commit {
			err = p.CommitTxn()
		} else {
			err = p.AbortTxn()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	var many []string
	for i := range 3000 { // ~3 MB: several fetches of 1 MiB
		many = append(many, fmt.Sprintf("k%d", i))
	}
	txn(true, "a", "b")
	txn(false, "x", "y")
	txn(true, many...)
	txn(false, "z")
	txn(true, "del-a", "c")
	txn(false, "tail1", "tail2") // the partition ends in an aborted transaction
	var got []string
	start := time.Now()
	n, err := ReadChangelog(context.Background(), map[string]string{"properties.bootstrap.servers": b.Addr()}, "g", "r", "c", 0,
		func(key, value []byte) error {
			val := "<nil>"
			if value != nil {
				val = strings.TrimSuffix(string(value), big)
			}
			got = append(got, string(key)+"="+val)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(want)) || !slices.Equal(got, want) {
		t.Fatalf("read %d records: %d differ from the %d committed ones (first got %v)", n, len(got), len(want), got[:min(5, len(got))])
	}
	t.Logf("%d committed records in %v", n, time.Since(start))
}
