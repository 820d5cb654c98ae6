package persistence

import (
	"context"
	"fmt"
	"log/slog"
)

// pebbleLogger routes Pebble's log lines to slog, so Pebble never writes to
// stderr on its own.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Info(fmt.Sprintf(format, args...))
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...))
}

// Fatalf is called by Pebble when it cannot continue (e.g. data corruption)
// and must not return; Pebble's default exits the process. Panicking instead
// logs first and lets a test or a supervisor see the message.
func (l pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error(msg, "fatal", true)
	panic("pebble: " + msg)
}

// Eventf carries per-operation traces; they are only emitted when
// IsTracingEnabled, which it never is: per-read tracing is too costly here.
func (l pebbleLogger) Eventf(ctx context.Context, format string, args ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, args...))
}

func (l pebbleLogger) IsTracingEnabled(context.Context) bool { return false }
