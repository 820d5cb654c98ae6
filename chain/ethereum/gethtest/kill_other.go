//go:build !linux

package gethtest

import "os/exec"

// killWithParent is Linux-only; elsewhere t.Cleanup alone stops geth.
func killWithParent(*exec.Cmd) {}
