//go:build !linux

package btcdtest

import "os/exec"

// killWithParent is Linux-only; elsewhere t.Cleanup alone stops btcd.
func killWithParent(*exec.Cmd) {}
