package supervise

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
)

// Explain runs PROGRAM under the restrictions note ∪ deny (note: what
// PROGRAM's note restricts; deny: what --deny added; both of PROGRAM's ABI),
// with SPEC section 3's semantics. When PROGRAM, a thread or a child makes a
// restricted syscall, Explain writes one line to c.Log naming the process,
// the syscall (name, number, ABI) and the stamp change that would allow it,
// and the process dies of SIGSYS before the syscall runs: the tracer turns
// the syscall's number into the filter's sentinel, which the kernel's
// re-check of the filter after the trace stop answers with
// SECCOMP_RET_KILL_PROCESS. Allowed syscalls never stop, but for those by
// which a program could take the supervisor's place (ptrace, clone with
// CLONE_UNTRACED, a seccomp listener of its own: tracerFilter), which are
// reported and killed the same way.
//
// It returns PROGRAM's wait status for the caller to pass on (see Exit).
func Explain(ctx context.Context, c Config, note, deny bitmap.Set) (unix.WaitStatus, error) {
	abi := note.ABI()
	set := note.Union(deny.WithABI(abi))
	// The sentinel: a number no ABI uses, below the x32 bit, different
	// on each run so that no program hits it by accident.
	sentinel := 0x10000000 | rand.Uint32N(0x0fffffff)
	f, err := filter.Build(set, filter.Options{Action: filter.Trace(0), Sentinel: true})
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
	h := func(pid int, t *tracee, si syscallInfo) error {
		if what, hit := tracerHit(si); hit && !restricts(set, si) {
			fmt.Fprintln(log, tracerLine("--explain", pid, t.exe, what))
		} else {
			fmt.Fprintln(log, explainLine(pid, t.exe, stamped, si, note, deny))
		}
		if err := setSyscallNr(pid, sentinel); err != nil {
			// Fail closed: the syscall must not run.
			unix.Kill(pid, unix.SIGKILL)
			return fmt.Errorf("rewriting syscall of pid %d: %w", pid, err)
		}
		return nil
	}
	// The loader's own execveat of PROGRAM, if the set restricts it, stops
	// too; the tracer lets every stop before PROGRAM's exec pass: the
	// supervisor is the exec gate, no secret is needed.
	return run(ctx, c, [][]bpf.RawInstruction{f.Instructions(), kill, tracers}, h, nil)
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

// explainLine is Explain's report of one hit: why the filter (SPEC section
// 3, in its order) stopped syscall si, and what would allow it.
func explainLine(pid int, exe, stamped string, si syscallInfo, note, deny bitmap.Set) string {
	abi, nr := abiOf(si.Arch, si.Nr)
	var b strings.Builder
	fmt.Fprintf(&b, "sysrestrict-exec: killed %s (pid %d): ", exe, pid)
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

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-+=:,@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
