package supervise

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/profile"
)

// Record runs PROGRAM unrestricted under a filter that traces every
// syscall, and returns the syscalls that PROGRAM, its threads and its
// children (and what they execute) made, as a profile of one run, with
// PROGRAM's wait status. The child's own syscalls before it executes PROGRAM
// are not recorded.
//
// A program that traces, starts untraced children or hands syscalls to a
// seccomp listener of its own could make syscalls that are never recorded
// (tracerHit): it is killed at the first such syscall, with a line to
// c.Log, as --explain does.
func Record(ctx context.Context, c Config) (*profile.Profile, unix.WaitStatus, error) {
	filter, err := learnFilter()
	if err != nil {
		return nil, 0, err
	}
	// The sentinel, as in Explain: the tracer rewrites a tracer hit to it,
	// and the kernel's re-check of the filters kills the process.
	sentinel := 0x10000000 | rand.Uint32N(0x0fffffff)
	kill, err := sentinelFilter(sentinel)
	if err != nil {
		return nil, 0, err
	}
	log := c.Log
	if log == nil {
		log = os.Stderr
	}
	type key struct {
		abi bitmap.ABI
		nr  int
		exe profile.ID
	}
	counts := map[key]uint64{}
	rec := profile.Run{Mode: profile.ModeLearn, Argv: c.Argv, Time: time.Now()}
	var program profile.ID // what every recorded executable ran under
	h := func(pid int, t *tracee, si syscallInfo) error {
		abi, nr := abiOf(si.Arch, si.Nr)
		if nr < 0 {
			return nil // seccomp never sees these on the ABIs we know
		}
		if t.root && rec.ABI == bitmap.Unknown {
			rec.ABI = abi
		}
		counts[key{abi, nr, t.id}]++
		if what, hit := tracerHit(si); hit {
			fmt.Fprintln(log, tracerLine("--learn", pid, t.exe, what))
			if err := setSyscallNr(pid, sentinel); err != nil {
				// Fail closed: the syscall must not run.
				unix.Kill(pid, unix.SIGKILL)
				return fmt.Errorf("rewriting syscall of pid %d: %w", pid, err)
			}
		}
		return nil
	}
	t := &tracer{h: h, identify: true}
	t.started = func(exe string) {
		rec.Executable = exe
		program = t.live[t.pid].id
	}
	ws, err := runTracer(ctx, c, installing(filter, kill), t)
	if err != nil {
		return nil, ws, err
	}
	rec.Status = Status(ws)
	p := &profile.Profile{Runs: []profile.Run{rec}}
	for k, n := range counts {
		p.Add(k.exe, program, k.abi, k.nr, n)
	}
	return p, ws, nil
}

// Learn records PROGRAM like Record and merges the result into the profile
// file at profilePath (created if missing, written atomically), then returns
// PROGRAM's wait status for the caller to pass on (see Exit). The profile is
// written whatever PROGRAM's exit status, but not when it never started or
// the supervision failed.
//
// The file is checked first (CheckProfile): one that could not take the
// run fails before anything runs. Should the merge still fail after the
// run (the file changed meanwhile, the disk filled up), the run's profile
// is saved in a file of its own, which the *ProfileError names.
func Learn(ctx context.Context, c Config, profilePath string) (unix.WaitStatus, error) {
	if err := CheckProfile(profilePath); err != nil {
		return 0, err
	}
	p, ws, err := Record(ctx, c)
	if err != nil {
		return ws, err
	}
	defer holdSignals()()
	if err := profile.Update(profilePath, p); err != nil {
		saved, _ := save(p)
		return ws, &ProfileError{Path: profilePath, Err: err, Saved: saved}
	}
	return ws, nil
}
