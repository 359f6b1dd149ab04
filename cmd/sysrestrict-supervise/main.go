// Command sysrestrict-supervise runs sysrestrict-exec's --learn and
// --explain modes; sysrestrict-exec execs it, from its own directory, with
// its own arguments. It takes the same command line as sysrestrict-exec.
// See internal/supervisecli and docs/learn.md.
package main

import (
	"os"

	"github.com/sysrestrict/sysrestrict/internal/execcli"
	"github.com/sysrestrict/sysrestrict/internal/supervise"
	"github.com/sysrestrict/sysrestrict/internal/supervisecli"
)

func main() {
	// Init comes first: this binary is also the launcher of the child that
	// --learn and --explain supervise; in that child Init installs the
	// filters and execs PROGRAM, and never returns.
	supervise.Init()
	execcli.Supervisor = supervisecli.Run
	os.Exit(execcli.Run(os.Args, os.Environ(), os.Stdout, os.Stderr))
}
