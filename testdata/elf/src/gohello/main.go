// Command gohello is the Go fixture program.
//
//	gohello          prints "hello from NAME" and exits 0
//	gohello exit N   prints the same line and exits N
//
// NAME is set by the Makefile with -ldflags=-X=main.name=NAME.
package main

import (
	"os"
	"strconv"
)

var name = "gohello"

func main() {
	os.Stdout.WriteString("hello from " + name + "\n")
	if len(os.Args) > 2 && os.Args[1] == "exit" {
		n, _ := strconv.Atoi(os.Args[2])
		os.Exit(n)
	}
}
