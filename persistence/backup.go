package persistence

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Checkpoint writes a consistent copy of the store into dir, which must not
// exist yet, while the store keeps serving. The copy is a Pebble
// checkpoint: sstables are hard-linked where the filesystem allows (so it is
// cheap and must live on the same filesystem to be), the WAL is flushed
// first and copied, and the copy holds every commit acknowledged before
// the call, and whole batches only (a commit is never half in a backup).
// Open the copy with Open like any store; to restore, stop the server and
// put the copy in place of the data dir's store/ directory.
func (s *Store) Checkpoint(dir string) error {
	if err := s.db.Checkpoint(dir, pebble.WithFlushedWAL()); err != nil {
		return fmt.Errorf("checkpoint to %s: %w", dir, err)
	}
	return nil
}
