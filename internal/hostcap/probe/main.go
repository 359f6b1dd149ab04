// Command probe prints what the running kernel can do, one capability a
// line ("i386-exec no (execve of a minimal i386 ELF: exec format error)"),
// for shell scripts that must skip what the host cannot do:
//
//	go run ./internal/hostcap/probe            # every capability
//	go run ./internal/hostcap/probe i386-exec  # exit 0 if present, 1 if not
//
// Exit status: 0 every named capability is present, 1 one is missing, 2
// usage.
package main

import (
	"fmt"
	"os"

	"github.com/sysrestrict/sysrestrict/internal/hostcap"
)

func main() {
	caps := hostcap.All
	if len(os.Args) > 1 {
		caps = nil
		for _, a := range os.Args[1:] {
			c, err := hostcap.Parse(a)
			if err != nil {
				fmt.Fprintln(os.Stderr, "probe:", err)
				os.Exit(2)
			}
			caps = append(caps, c)
		}
	}
	status := 0
	for _, c := range caps {
		r := hostcap.Probe(c)
		fmt.Println(r)
		if !r.OK && len(os.Args) > 1 {
			status = 1
		}
	}
	os.Exit(status)
}
