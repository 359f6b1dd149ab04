package hostcap

import (
	"fmt"
	"sync"
)

// A Capability is something the running kernel may or may not be able to
// do.
type Capability int

const (
	// I386Exec: execve(2) of a 32-bit x86 ELF (IA-32 emulation).
	I386Exec Capability = iota + 1
	// X32: the x32 syscall ABI (CONFIG_X86_X32_ABI, not disabled at boot).
	X32
	// Landlock: the Landlock LSM is enabled (landlock_create_ruleset(2)
	// reports an ABI version).
	Landlock
	// Seccomp: seccomp filters (prctl(PR_GET_SECCOMP) works).
	Seccomp
)

// All lists every capability, in a fixed order.
var All = []Capability{I386Exec, X32, Landlock, Seccomp}

var names = map[Capability]string{
	I386Exec: "i386-exec",
	X32:      "x32",
	Landlock: "landlock",
	Seccomp:  "seccomp",
}

var doing = map[Capability]string{
	I386Exec: "exec an i386 ELF",
	X32:      "make x32 syscalls",
	Landlock: "create Landlock domains",
	Seccomp:  "install seccomp filters",
}

// String returns the capability's short name, as the probe command and the
// fixture manifest (testdata/elf/fixtures.json "needs") spell it.
func (c Capability) String() string {
	if n, ok := names[c]; ok {
		return n
	}
	return fmt.Sprintf("Capability(%d)", int(c))
}

// Parse returns the capability named s (as String spells it).
func Parse(s string) (Capability, error) {
	for _, c := range All {
		if c.String() == s {
			return c, nil
		}
	}
	return 0, fmt.Errorf("unknown host capability %q (known: i386-exec, x32, landlock, seccomp)", s)
}

// A Result is what a probe found.
type Result struct {
	Cap Capability
	OK  bool
	// How says how the capability was probed, and what was seen:
	// "execve of a minimal i386 ELF: exec format error".
	How string
}

// String renders r as the probe command prints it: "i386-exec yes (...)"
// or "i386-exec no (...)".
func (r Result) String() string {
	yes := "no"
	if r.OK {
		yes = "yes"
	}
	return fmt.Sprintf("%s %s (%s)", r.Cap, yes, r.How)
}

var (
	mu    sync.Mutex
	cache = map[Capability]Result{}
)

// Probe reports whether the running kernel has c, probing it the first
// time it is asked in this process.
func Probe(c Capability) Result {
	mu.Lock()
	defer mu.Unlock()
	if r, ok := cache[c]; ok {
		return r
	}
	var r Result
	switch c {
	case I386Exec:
		r = probeI386Exec()
	case X32:
		r = probeX32()
	case Landlock:
		r = probeLandlock()
	case Seccomp:
		r = probeSeccomp()
	default:
		r = Result{How: "no probe for " + c.String()}
	}
	r.Cap = c
	cache[c] = r
	return r
}

// Has reports whether the running kernel has c.
func Has(c Capability) bool { return Probe(c).OK }

// Skipper is the part of testing.TB that Need uses.
type Skipper interface {
	Helper()
	Skipf(format string, args ...any)
}

// Need skips the test when the running kernel lacks c, naming c and how
// it was probed. Use it only for what the host's kernel decides, never
// for a missing tool.
func Need(t Skipper, c Capability) {
	t.Helper()
	if r := Probe(c); !r.OK {
		t.Skipf("host kernel cannot %s (probed: %s)", doing[c], r.How)
	}
}

// Missing returns the message Need would skip with, or "" if the kernel
// has c: for tests that check everything else before they skip.
func Missing(c Capability) string {
	if r := Probe(c); !r.OK {
		return fmt.Sprintf("host kernel cannot %s (probed: %s)", doing[c], r.How)
	}
	return ""
}
