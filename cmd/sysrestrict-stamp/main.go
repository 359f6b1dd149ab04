// Command sysrestrict-stamp writes a syscall restriction bitmap into the
// .note.sysrestrict note of already-linked ELF binaries. See
// internal/stampcli and docs/.
package main

import (
	"os"

	"github.com/sysrestrict/sysrestrict/internal/stampcli"
)

func main() {
	os.Exit(stampcli.Run(os.Args, os.Stdout, os.Stderr))
}
