// Package httpapi is the thin REST layer of invoiced: httprouter routes that
// authenticate, decode strictly, turn each call into a message for the
// invoice actors (or a read of committed state), and map domain errors to
// status codes in one table (errors.go).
//
// It lives in directory http but is named httpapi so it never shadows
// net/http in the files that use both.
package httpapi
