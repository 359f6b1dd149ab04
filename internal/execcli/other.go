//go:build !linux

package execcli

import (
	"io"
	"runtime"
)

// File is PROGRAM's open descriptor (Linux only).
type File struct{ Fd int }

// ReadAt fails: there is no File off Linux.
func (f *File) ReadAt(b []byte, off int64) (int, error) { return 0, unsupported() }

// Close fails: there is no File off Linux.
func (f *File) Close() error { return unsupported() }

func unsupported() error {
	return fail(ExitUsage, "seccomp enforcement needs Linux; this is ", runtime.GOOS)
}

func lookPath(program, path string, pathSet bool) (string, error) { return "", unsupported() }
func open(path string) (*File, Kind, error)                       { return nil, 0, unsupported() }
func dump(p *Plan, format string, w io.Writer) error              { return unsupported() }
func run(p *Plan) error                                           { return unsupported() }
