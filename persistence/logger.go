package persistence

import (
	"context"
	"fmt"
	"log/slog"
)

// pebbleLogger routes Pebble's log lines to slog, so Pebble never writes to
// stderr on its own.
type pebbleLogger struct {
	log     *slog.Logger
	onFatal func(msg string)
}

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Info(fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...))
}

// Fatalf is called by Pebble when it cannot continue (a failed WAL write,
// corruption) and must not return. It logs and hands over to OnFatal, which
// stops the process: recovering from it would keep serving state the disk
// may not have.
func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error(msg, "fatal", true)
	l.onFatal("pebble: " + msg)
	panic("pebble: " + msg) // OnFatal must not return; never continue if it does
}

// Eventf carries per-operation traces; they are only emitted when
// IsTracingEnabled, which it never is: per-read tracing is too costly here.
func (l pebbleLogger) Eventf(ctx context.Context, format string, args ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, args...))
}

func (l pebbleLogger) IsTracingEnabled(context.Context) bool { return false }
