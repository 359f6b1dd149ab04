//go:build !linux

package supervise

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
	"github.com/sysrestrict/sysrestrict/pkg/profile"
)

// WaitStatus is how PROGRAM ended.
type WaitStatus = syscall.WaitStatus

func unsupported() error { return fmt.Errorf("%w: this is %s", ErrUnsupported, runtime.GOOS) }

// Init does nothing: there is no supervised child on this system.
func Init() {}

// Record fails: supervision needs Linux (seccomp and ptrace).
func Record(ctx context.Context, c Config) (*profile.Profile, WaitStatus, error) {
	return nil, *new(WaitStatus), unsupported()
}

// Learn fails: supervision needs Linux (seccomp and ptrace).
func Learn(ctx context.Context, c Config, profilePath string) (WaitStatus, error) {
	return *new(WaitStatus), unsupported()
}

// Explain fails: supervision needs Linux (seccomp and ptrace).
func Explain(ctx context.Context, c Config, note, deny bitmap.Set, act elfnote.Actions) (WaitStatus, error) {
	return *new(WaitStatus), unsupported()
}

// Enforce fails: supervision needs Linux (seccomp and ptrace).
func Enforce(ctx context.Context, c Config, set bitmap.Set, opts filter.Options) (WaitStatus, error) {
	return *new(WaitStatus), unsupported()
}

// Status describes how a process ended.
func Status(ws WaitStatus) string { return "exit " + strconv.Itoa(ws.ExitStatus()) }

// Exit ends the process with PROGRAM's exit status.
func Exit(ws WaitStatus) { os.Exit(ws.ExitStatus()) }

// Audit fails: supervision needs Linux (seccomp and ptrace).
func Audit(ctx context.Context, c Config, note, deny bitmap.Set) (*AuditReport, WaitStatus, error) {
	return nil, *new(WaitStatus), unsupported()
}

// AuditTo fails: supervision needs Linux (seccomp and ptrace).
func AuditTo(ctx context.Context, c Config, note, deny bitmap.Set, profilePath string) (*AuditReport, WaitStatus, error) {
	return nil, *new(WaitStatus), unsupported()
}

// Undumpable fails: supervision needs Linux.
func Undumpable() error { return unsupported() }
