// Command sysrestrict-exec runs a program under the seccomp filter its
// .note.sysrestrict note asks for. See internal/execcli and docs/exec.md.
package main

import (
	"os"

	"github.com/sysrestrict/sysrestrict/internal/execcli"
)

// The loader runs in init, not in main: during package initialisation the
// runtime keeps the main goroutine on the main thread, so the exec is made
// by the thread group leader (what a tracer of the loader expects, and no
// de-threading of the leader at exec) without runtime.LockOSThread, whose
// template thread alone costs 15–20 page faults: about a third of the
// loader's start-up over a Go program that only execs (docs/exec.md).
//
// --learn and --explain are handed to sysrestrict-supervise, beside this
// binary, so that the supervisor is not loaded on every exec.
func init() {
	os.Exit(execcli.Run(os.Args, os.Environ(), os.Stdout, os.Stderr))
}

func main() {} // not reached: init exits or execs
