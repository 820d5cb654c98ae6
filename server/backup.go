package server

import (
	"context"
	"errors"
	"log/slog"

	"github.com/invoiced/invoiced/maintenance"
)

// errStoreClosed answers a backup asked for after Shutdown closed the store.
var errStoreClosed = errors.New("backup: the server has shut down")

// Backup writes a checked backup of the data dir into <data dir>/backups
// while the server keeps serving (see maintenance.OnlineBackup); POST
// /api/v1/admin/backup calls it. One is written at a time: a call while
// another runs gets maintenance.ErrBackupInProgress at once. ctx only stops a backup
// from starting; once started it finishes, as a half-written copy is
// worth nothing, and Shutdown waits for it before closing the store.
func (s *Server) Backup(ctx context.Context) (maintenance.BackupResult, error) {
	if err := ctx.Err(); err != nil {
		return maintenance.BackupResult{}, err
	}
	if !s.backupMu.TryLock() {
		return maintenance.BackupResult{}, maintenance.ErrBackupInProgress
	}
	defer s.backupMu.Unlock()
	if s.storeClosed {
		return maintenance.BackupResult{}, errStoreClosed
	}
	now := s.clock.Now()
	res, err := maintenance.OnlineBackup(s.store, s.dataDir, now, maintenance.CheckConfig{WatchGrace: s.watchGrace, Now: now})
	if err != nil {
		return res, err
	}
	attrs := []any{slog.String("path", res.Path), slog.Int("files", res.Files), slog.Int64("bytes", res.Bytes),
		slog.Int("invoices", res.Report.Streams), slog.Duration("took", res.Duration)}
	if !res.Report.OK() {
		// The copy is the data dir's state: `invoiced check` on a stopped
		// server names and repairs what differs.
		s.log.Warn("backup written; its integrity check found problems", append(attrs, slog.Int("problems", len(res.Report.Problems)), slog.Any("first", res.Report.Problems[0].String()))...)
		return res, nil
	}
	s.log.Info("backup written and checked", attrs...)
	return res, nil
}
