package builtin

import (
	"io"

	"github.com/streamsql/streamsql/connectors"
	"github.com/streamsql/streamsql/connectors/blackhole"
	"github.com/streamsql/streamsql/connectors/datagen"
	"github.com/streamsql/streamsql/connectors/filesystem"
	"github.com/streamsql/streamsql/connectors/kafka"
	"github.com/streamsql/streamsql/connectors/nexmark"
	"github.com/streamsql/streamsql/connectors/print"
)

// Registry returns a registry of the built-in connectors: datagen,
// filesystem, print (writing to stdout) and blackhole.
func Registry(stdout io.Writer) *connectors.Registry {
	return connectors.NewRegistry(
		datagen.New(),
		filesystem.New(),
		kafka.New(),
		kafka.NewUpsert(),
		nexmark.New(),
		print.New(stdout),
		blackhole.New(),
	)
}
