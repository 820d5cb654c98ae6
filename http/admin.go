package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/invoiced/invoiced/accounts"
	"github.com/invoiced/invoiced/maintenance"
	"github.com/invoiced/invoiced/persistence"
	"github.com/julienschmidt/httprouter"
)

// backups is what the admin backup route needs of the server.
type backups interface {
	// Backup writes a checked backup of the data dir while serving, one at
	// a time (maintenance.ErrBackupInProgress otherwise).
	Backup(ctx context.Context) (maintenance.BackupResult, error)
}

// backupAnswerTimeout bounds writing the answer once the backup is written:
// the backup itself runs without the server's write timeout.
const backupAnswerTimeout = 10 * time.Second

var errBackupInProgress = newError(http.StatusConflict, "backup_in_progress", "a backup is already being written; retry when it has finished")

// createBackup is POST /api/v1/admin/backup: a backup of the data dir into
// <data dir>/backups, checked, answered when written (201). A copy whose
// check finds problems is still written and answered 201 with
// integrity_ok false: it holds what the data dir holds.
func (s *Server) createBackup(w http.ResponseWriter, r *http.Request, _ httprouter.Params, _ persistence.Account, _ accounts.Actor) {
	// A large store takes longer than the server's write timeout to copy
	// and check; the answer must still arrive.
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // not every ResponseWriter supports it (httptest's recorder)
	res, err := s.cfg.Backups.Backup(r.Context())
	_ = rc.SetWriteDeadline(time.Now().Add(backupAnswerTimeout))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, res.Summary())
}
