package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/streamsql/streamsql/connectors/kafka/kafkatest"
)

// topicList is a repeatable --topic flag.
type topicList []string

func (l *topicList) String() string { return strings.Join(*l, ",") }

func (l *topicList) Set(v string) error {
	for _, t := range strings.Split(v, ",") {
		if t = strings.TrimSpace(t); t != "" {
			*l = append(*l, t)
		}
	}
	return nil
}

// devCmd runs developer tools; today one: `dev kafka`, an in-memory
// Kafka-protocol broker on 127.0.0.1 for trying the kafka connector and
// the queries/kafka_*.sql examples.
func devCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "kafka" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, devUsage)
			return nil
		}
		fmt.Fprint(stderr, devUsage)
		return errUsage
	}
	fs := flag.NewFlagSet("dev kafka", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("port", 9092, "port to listen on at 127.0.0.1")
	partitions := fs.Int("partitions", 1, "partitions of each --topic (and of topics created by clients)")
	var topics topicList
	fs.Var(&topics, "topic", "topic to create at start (repeatable, or comma-separated)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: streamsql dev kafka [--port 9092] [--partitions N] [--topic NAME ...]

Starts an in-memory Kafka-protocol broker (kfake) on 127.0.0.1 and blocks
until Ctrl-C. Everything it holds is lost when it stops. Any Kafka client
works against it (kcat -b 127.0.0.1:9092 -L), and so does the kafka
connector with 'properties.bootstrap.servers' = '127.0.0.1:9092'.

Flags:
`)
		fs.PrintDefaults()
	}
	if done, err := parseFlags(fs, args[1:]); done {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return errUsage
	}
	b, err := kafkatest.Start(kafkatest.Options{Port: *port, Partitions: *partitions, Topics: topics})
	if err != nil {
		return err
	}
	defer b.Close()
	fmt.Fprintf(stdout, "kafka broker listening on %s", strings.Join(b.Addrs, ","))
	if len(topics) > 0 {
		fmt.Fprintf(stdout, " with topics %s (%d partitions each)", strings.Join(topics, ", "), *partitions)
	}
	fmt.Fprintln(stdout, "; Ctrl-C stops it")
	<-ctx.Done()
	fmt.Fprintln(stdout, "kafka broker stopped")
	return nil
}

const devUsage = `Usage: streamsql dev <tool> [flags]

Tools:
  kafka    run an in-memory Kafka-protocol broker on 127.0.0.1 (see 'streamsql dev kafka --help')
`
