package builtin

import (
	"io"

	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/connectors/blackhole"
	"github.com/streamsql/streamsql/connectors/datagen"
	"github.com/streamsql/streamsql/connectors/filesystem"
	"github.com/streamsql/streamsql/connectors/jdbc"
	"github.com/streamsql/streamsql/connectors/kafka"
	"github.com/streamsql/streamsql/connectors/nexmark"
	"github.com/streamsql/streamsql/connectors/print"
	"github.com/streamsql/streamsql/connectors/values"
)

// Registry returns a registry of the built-in connectors: datagen,
// filesystem, jdbc (PostgreSQL), kafka, upsert-kafka, nexmark, print (writing to stdout),
// blackhole, and values (the bounded source behind VALUES and SELECT without
// FROM).
func Registry(stdout io.Writer) *connectors.Registry {
	return connectors.NewRegistry(
		datagen.New(),
		filesystem.New(),
		jdbc.New(),
		kafka.New(),
		kafka.NewUpsert(),
		nexmark.New(),
		print.New(stdout),
		blackhole.New(),
		values.New(),
	)
}
