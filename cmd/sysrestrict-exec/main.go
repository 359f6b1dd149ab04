// Command sysrestrict-exec runs a program under the seccomp filter its
// .note.sysrestrict note asks for. See internal/execcli and docs/exec.md.
package main

import (
	"os"
	"runtime"

	"github.com/sysrestrict/sysrestrict/internal/execcli"
)

// The loader installs its filter on one thread and execs from it: keep
// main on the process's main thread, so the exec is made by the thread
// group leader.
func init() { runtime.LockOSThread() }

func main() {
	os.Exit(execcli.Run(os.Args, os.Environ(), os.Stdout, os.Stderr))
}
