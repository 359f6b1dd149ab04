//go:build linux

package execcli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSupervisedEscapes: under --explain and --learn the program cannot
// take the supervisor's place. It clones a child with CLONE_UNTRACED,
// which the supervisor never sees, seizes it and continues it through its
// seccomp stop (the attack); or hands a syscall to a seccomp
// listener of its own, whose answer outranks the supervisor's; or traces
// at all. Each is reported and killed, before the restricted getppid can
// run. (TestParentTakeover: nor can it write into the supervisor.)
func TestSupervisedEscapes(t *testing.T) {
	need(t)
	profile := filepath.Join(t.TempDir(), "p.json")
	for _, tt := range []struct {
		argv []string
		hit  string
	}{
		{[]string{escape, "untraced", "110"}, "clone (56, x86_64) with CLONE_UNTRACED"},
		{[]string{escape, "untraced-only", "110"}, "clone (56, x86_64) with CLONE_UNTRACED"},
		{[]string{escape, "untraced3", "110"}, "ptrace (101, x86_64)"}, // clone3's flags are out of a filter's sight: the seize is the hit
		{[]string{escape, "notify", "110"}, "seccomp (317, x86_64) with SECCOMP_FILTER_FLAG_NEW_LISTENER"},
		{[]string{victim, "ptrace"}, "ptrace (101, x86_64)"},
	} {
		for _, mode := range [][]string{{"--explain", "--deny", "getppid"}, {"--learn", profile}} {
			name := mode[0] + " " + strings.Join(tt.argv[1:], " ")
			r := load(t, append(mode, tt.argv...)...)
			wantSIGSYS(t, name, r)
			if !strings.Contains(r.stderr, tt.hit+": "+mode[0]+" cannot supervise a program that traces") {
				t.Errorf("%s: stderr %q, want it to name %s", name, r.stderr, tt.hit)
			}
			if strings.Contains(r.stdout, "child: ret") || strings.Contains(r.stdout, "notify: ret") {
				t.Errorf("%s: stdout %q: the syscall ran", name, r.stdout)
			}
		}
	}
	// A clone3 child with CLONE_UNTRACED that nobody traces: under
	// --explain its restricted syscall fails with ENOSYS (SECCOMP_RET_TRACE
	// with no tracer) and does not run; nothing is reported.
	r := load(t, "--explain", "--deny", "getppid", escape, "untraced3-only", "110")
	wantExit(t, "--explain untraced3-only", r, 0, "child: ret -1 errno 38\nchild exit 0\n")
	// Under --learn every syscall of such a child fails so: it cannot
	// even read its pipe, write or exit, and dies (its parent too, of
	// SIGPIPE, if it writes to the pipe after that).
	r = load(t, "--learn", profile, escape, "untraced3-only", "110")
	if strings.Contains(r.stdout, "child: ret") {
		t.Errorf("--learn untraced3-only: %v, want the untraced child to run no syscall", r)
	}
}
