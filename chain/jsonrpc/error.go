package jsonrpc

import (
	"errors"
	"fmt"
)

// Error is an error object the node returned for one call. Its Code means
// what the node's dialect says it means (bitcoind's -5 "no such
// transaction", JSON-RPC 2.0's -32601 "method not found"); callers find it
// with errors.As.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("rpc error %d: %s", e.Code, e.Message)
}

// ErrNull is a call's result being JSON null: for some methods an answer
// ("no such block"), for most a bad one. Callers decide.
var ErrNull = errors.New("result is null")
