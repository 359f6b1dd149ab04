package supervise

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
)

// Explain runs PROGRAM under the restrictions note ∪ deny (note: what
// PROGRAM's note restricts; deny: what --deny added; both of PROGRAM's ABI)
// with the actions act (the note's, or --action's), with SPEC section 3's
// semantics. When PROGRAM, a thread or a child makes a restricted syscall,
// Explain writes one line to c.Log naming the process, the syscall (name,
// number, ABI) and the stamp change that would allow it, and the syscall
// gets its action as it would without --explain:
//
//   - kill: the process dies of SIGSYS before the syscall runs: the tracer
//     turns the syscall's number into the filter's sentinel, which the
//     kernel's re-check of the filter after the trace stop answers with
//     SECCOMP_RET_KILL_PROCESS;
//   - errno: the syscall fails with that errno and the program goes on:
//     the number becomes one that errnoFilter answers with that
//     SECCOMP_RET_ERRNO in the same re-check;
//   - log: the syscall runs.
//
// A syscall that fails or runs is reported the first time only. trap (a
// run's --action, never a note's) is killed like kill, and the line says
// so: the SIGSYS of a rewritten syscall would carry the rewritten number
// in si_syscall and the return register, so the program's handler would
// not see what it sees without --explain.
//
// Allowed syscalls never stop, but for those by which a program could take
// the supervisor's place (ptrace, clone with CLONE_UNTRACED, a seccomp
// listener of its own: tracerFilter), which are reported and killed.
//
// An embedded PROGRAM (c.Stub) starts at its original entry point, not at
// its start-up stub, whose own filter would kill before the supervisor
// could explain (the most severe action of all filters wins).
//
// It returns PROGRAM's wait status for the caller to pass on (see Exit).
func Explain(ctx context.Context, c Config, note, deny bitmap.Set, act elfnote.Actions) (unix.WaitStatus, error) {
	abi := note.ABI()
	set := note.Union(deny.WithABI(abi))
	// The sentinel: a number no ABI uses, below the x32 bit, different
	// on each run so that no program hits it by accident; the numbers
	// errnoFilter answers, 4,095 of them from base + 1, above it.
	sentinel := 0x10000000 | rand.Uint32N(0x0fffffff)
	base := 0x20000000 | rand.Uint32N(0x1ffff)<<12
	// An embedded PROGRAM's stub is skipped at its exec (c.Stub), and this
	// filter enforces its note; as under the loader it lets the stubs of
	// embedded programs PROGRAM starts make their two calls (StubCalls).
	f, err := filter.Build(set, filter.Options{Action: filter.Trace(0), Sentinel: true, StubCalls: c.Stub != nil})
	if err == nil {
		err = f.Render(filter.Values{Sentinel: sentinel})
	}
	if err != nil {
		return 0, err
	}
	kill, err := sentinelFilter(sentinel)
	if err != nil {
		return 0, err
	}
	errnos, err := errnoFilter(base)
	if err != nil {
		return 0, err
	}
	tracers, err := tracerFilter(abi)
	if err != nil {
		return 0, err
	}
	log := c.Log
	if log == nil {
		log = os.Stderr
	}
	stamped := c.Path
	if stamped == "" && c.File != nil {
		stamped = c.File.Name()
	}
	reported := map[[2]int]bool{} // the ABI and number of each errno or log hit reported
	h := func(pid int, t *tracee, si syscallInfo) error {
		a := filter.Kill()
		if what, hit := tracerHit(si); hit && !restricts(set, si) {
			fmt.Fprintln(log, tracerLine("--explain", pid, t.exe, what))
		} else {
			a = actionOf(set, act, si)
			sabi, nr := abiOf(si.Arch, si.Nr)
			key := [2]int{int(sabi), nr}
			if a == filter.Kill() || a == filter.Trap() || !reported[key] {
				// kill and trap end the process: each is news.
				fmt.Fprintln(log, explainLine(pid, t.exe, stamped, si, note, deny, a))
				reported[key] = true
			}
		}
		to := sentinel // kill, and trap (see above)
		switch e, isErrno := a.IsErrno(); {
		case a == filter.Log():
			return nil // it runs: the re-check allows RET_TRACE
		case isErrno:
			to = base | uint32(e)
		}
		if err := setSyscallNr(pid, to); err != nil {
			// Fail closed: the syscall must not run.
			unix.Kill(pid, unix.SIGKILL)
			return fmt.Errorf("rewriting syscall of pid %d: %w", pid, err)
		}
		return nil
	}
	// The loader's own execveat of PROGRAM, if the set restricts it, stops
	// too; the tracer lets every stop before PROGRAM's exec pass: the
	// supervisor is the exec gate, no secret is needed.
	return run(ctx, c, installing(f.Instructions(), kill, errnos, tracers), h, nil)
}

// actionOf returns the action the enforcing filter of set with the
// actions act gives the restricted syscall si: its override, or the
// default (which is also what a syscall of another ABI, or a number from
// 512 up, gets).
func actionOf(set bitmap.Set, act elfnote.Actions, si syscallInfo) filter.Action {
	abi, nr := abiOf(si.Arch, si.Nr)
	if abi != set.ABI() || nr < 0 || nr >= bitmap.Size {
		return act.Default
	}
	return act.For(nr)
}

// restricts reports whether the enforcing filter of set (SPEC section 3)
// restricts the syscall si.
func restricts(set bitmap.Set, si syscallInfo) bool {
	abi, nr := abiOf(si.Arch, si.Nr)
	switch {
	case abi != set.ABI() || nr < 0:
		return true
	case nr >= bitmap.Size:
		return set.DenyBeyond()
	}
	return set.Has(nr)
}

// explainLine is Explain's report of one hit: what the syscall si got
// (the action a), why the filter (SPEC section 3, in its order) stopped
// it, and what would allow it.
func explainLine(pid int, exe, stamped string, si syscallInfo, note, deny bitmap.Set, a filter.Action) string {
	abi, nr := abiOf(si.Arch, si.Nr)
	var b strings.Builder
	switch e, isErrno := a.IsErrno(); {
	case isErrno:
		name := filter.ErrnoName(e)
		if name == "" {
			name = "errno " + strconv.Itoa(e)
		}
		fmt.Fprintf(&b, "sysrestrict-exec: %s to %s (pid %d), which goes on (errno=%s; reported once): ", name, exe, pid, name)
	case a == filter.Log():
		fmt.Fprintf(&b, "sysrestrict-exec: logged and run in %s (pid %d) (log; reported once): ", exe, pid)
	case a == filter.Trap():
		fmt.Fprintf(&b, "sysrestrict-exec: killed %s (pid %d) (trap: without --explain it gets a SIGSYS it may catch; --explain kills it): ", exe, pid)
	default:
		fmt.Fprintf(&b, "sysrestrict-exec: killed %s (pid %d): ", exe, pid)
	}
	name := abi.Name(nr)
	switch {
	case abi != note.ABI():
		fmt.Fprintf(&b, "syscall %d of ABI %s (arch %#x) is restricted: the note is for %s, and every syscall of another ABI is killed; no stamp allows it",
			nr, abi, si.Arch, note.ABI())
		return b.String()
	case nr >= bitmap.Size:
		fmt.Fprintf(&b, "%s (%d, %s) is restricted: the note restricts every number from %d up (DENY_BEYOND, set by an allowlist); no stamp can allow one such number",
			name, nr, abi, bitmap.Size)
		return b.String()
	}
	fmt.Fprintf(&b, "%s (%d, %s) is restricted", name, nr, abi)
	switch {
	case !note.Has(nr):
		fmt.Fprintf(&b, " by --deny; to allow it: drop %s from --deny", name)
	case note.DenyBeyond():
		fmt.Fprintf(&b, " by the note's allowlist; to allow it: sysrestrict-stamp --replace --allow-profile PROFILE --allow %s %s",
			name, shellQuote(stamped))
	default:
		rest := note.Difference(bitmap.NewSet(note.ABI(), nr))
		if rest.IsEmpty() {
			fmt.Fprintf(&b, " by the note; to allow it: sysrestrict-stamp --remove %s", shellQuote(stamped))
		} else {
			fmt.Fprintf(&b, " by the note; to allow it: sysrestrict-stamp --replace --deny %s %s",
				strings.Trim(rest.String(), "{}"), shellQuote(stamped))
		}
	}
	return b.String()
}
