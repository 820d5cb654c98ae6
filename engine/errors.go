package engine

import (
	"errors"
	"fmt"
	"strings"
)

// Domain errors. Callers test them with errors.Is; the http package maps each
// to one status code in a single table.
var (
	// ErrValidation marks a request whose fields are well-formed JSON but
	// semantically invalid (range, enum, format). See ValidationError.
	ErrValidation = errors.New("validation failed")
	// ErrTransition marks a status change the lifecycle does not allow.
	ErrTransition = errors.New("status transition not allowed")
	// ErrNotFound marks a command for an invoice that does not exist.
	ErrNotFound = errors.New("invoice not found")
	// ErrExists marks a create for an invoice that already exists.
	ErrExists = errors.New("invoice already exists")
	// ErrNoRate marks a fiat-priced create with no exchange rate available.
	ErrNoRate = errors.New("no exchange rate")
)

// FieldError names one invalid field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists every invalid field of a request, so a client can fix
// them all at once. It wraps ErrValidation.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "validation failed: " + strings.Join(parts, "; ")
}

func (e *ValidationError) Unwrap() error { return ErrValidation }

// add records a field problem.
func (e *ValidationError) add(field, format string, args ...any) {
	e.Fields = append(e.Fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// err returns e as an error if it holds any field, else nil.
func (e *ValidationError) err() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}

// Invalid returns a ValidationError for one field.
func Invalid(field, format string, args ...any) error {
	v := &ValidationError{}
	v.add(field, format, args...)
	return v
}

// TransitionError says which status change was refused and which targets the
// current status allows, so the 409 body can list them.
type TransitionError struct {
	From, To Status
	Allowed  []Status
}

func (e *TransitionError) Error() string {
	allowed := make([]string, len(e.Allowed))
	for i, s := range e.Allowed {
		allowed[i] = string(s)
	}
	if len(allowed) == 0 {
		return fmt.Sprintf("cannot change status from %s to %s: %s is final", e.From, e.To, e.From)
	}
	return fmt.Sprintf("cannot change status from %s to %s; allowed: %s", e.From, e.To, strings.Join(allowed, ", "))
}

func (e *TransitionError) Unwrap() error { return ErrTransition }
