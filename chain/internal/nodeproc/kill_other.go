//go:build !linux

package nodeproc

import "os/exec"

// killWithParent is Linux-only; elsewhere t.Cleanup alone stops the node.
func killWithParent(*exec.Cmd) {}
