// Command man writes the man pages of sysrestrict-stamp,
// sysrestrict-exec and sysrestrict-supervise (man/*.1) from their --help:
// it runs each command's own Run with --help, in process, and renders
// that text into roff, so a page says what the command's --help says
// (TestPagesAreCurrent fails when they differ).
//
// The pages are committed, so that make install needs neither Go tools
// nor a network to install them. Run it with go generate
// ./internal/gen/man (make generate).
package main

//go:generate go run . -o ../../../man

import (
	"flag"
	"log"
	"os"
	"path/filepath"
)

func main() {
	out := flag.String("o", "man", "directory to write the pages to")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("gen/man: ")

	pages, err := Pages()
	if err != nil {
		log.Fatal(err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	for _, p := range pages {
		if err := os.WriteFile(filepath.Join(*out, p.File()), []byte(p.Roff()), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
