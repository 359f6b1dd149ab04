// Command gofloor is the Go start-up floor of the exec benchmark: a Go
// program that does nothing but exec its arguments. sysrestrict-exec is
// measured against it.
package main

import (
	"os"
	"syscall"
)

func main() {
	err := syscall.Exec(os.Args[1], os.Args[1:], os.Environ())
	os.Stderr.WriteString("gofloor: " + err.Error() + "\n")
	os.Exit(126)
}
