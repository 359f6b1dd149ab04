//go:build !linux

package execcli

import (
	"io"
	"os"
	"runtime"
)

func unsupported() error {
	return fail(ExitUsage, "seccomp enforcement needs Linux; this is ", runtime.GOOS)
}

func lookPath(program, path string, pathSet bool) (string, error) { return "", unsupported() }
func open(path string) (*os.File, Kind, error)                    { return nil, 0, unsupported() }
func dump(p *Plan, format string, w io.Writer) error              { return unsupported() }
func run(p *Plan) error                                           { return unsupported() }
