//go:build !linux

package ethereum

import "os/exec"

// killWithParent is Linux-only; elsewhere t.Cleanup alone stops geth.
func killWithParent(*exec.Cmd) {}
