//go:build linux

package execcli

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
)

// stampedActions returns a copy of the victim stamped with the x86_64
// numbers nrs and the actions act.
func stampedActions(t *testing.T, act elfnote.Actions, nrs ...int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "victim")
	copyFile(t, victim, path, 0o755)
	if _, err := elfnote.Stamp(path, bitmap.NewSet(bitmap.X86_64, nrs...), elfnote.Options{Replace: true, Actions: act}); err != nil {
		t.Fatalf("stamping %s: %v", path, err)
	}
	return path
}

// The victim's calls mode makes these in turn: sysinfo (99) twice, getuid
// (102), getgid (104), geteuid (107).
var calls = []string{"calls", "99", "99", "102", "104", "107"}

// noteActions is the note of TestStampedActions: sysinfo fails with
// EPERM, getuid is logged and runs, getgid (the default) is killed.
var noteActions = elfnote.Actions{Default: filter.Kill(), Overrides: map[int]filter.Action{99: filter.Errno(1), 102: filter.Log()}}

// TestStampedActions: the loader enforces the note's actions, each
// syscall its own: the program goes on past an errno and a log override,
// and dies at the default's kill.
func TestStampedActions(t *testing.T) {
	need(t)
	prog := stampedActions(t, noteActions, 99, 102, 104)
	r := load(t, append([]string{prog}, calls...)...)
	wantSIGSYS(t, "note with overrides", r)
	if want := "syscall 99: ret -1 errno 1\nsyscall 99: ret -1 errno 1\nsyscall 102: ret 0 errno 0\n"; r.stdout != want {
		t.Errorf("note with overrides: stdout %q, want %q", r.stdout, want)
	}
	// A note whose default is errno: every restricted syscall fails, and
	// --deny's get the default too.
	prog = stampedActions(t, elfnote.Actions{Default: filter.Errno(38)}, 99, 104)
	wantExit(t, "errno default, --deny getppid", load(t, "--deny", "getppid", prog, "calls", "99", "104", "110"), 0,
		"syscall 99: ret -1 errno 38\nsyscall 104: ret -1 errno 38\nsyscall 110: ret -1 errno 38\n")
	// Without the loader nothing is enforced.
	wantExit(t, "no loader", runCmd(t, nil, prog, "calls", "104"), 0, "syscall 104: ret 0 errno 0\n")
}

// TestActionReplacesNote: --action replaces the note's default and every
// override for one run, and -v says so; --dump shows the overrides.
func TestActionReplacesNote(t *testing.T) {
	need(t)
	prog := stampedActions(t, noteActions, 99, 102, 104)
	wantExit(t, "--action errno=EACCES", load(t, append([]string{"--action", "errno=EACCES", prog}, calls...)...), 0,
		"syscall 99: ret -1 errno 13\nsyscall 99: ret -1 errno 13\nsyscall 102: ret -1 errno 13\nsyscall 104: ret -1 errno 13\nsyscall 107: ret 0 errno 0\n")
	r := load(t, "--action", "kill", prog, "calls", "99")
	wantSIGSYS(t, "--action kill on an errno override", r)
	if r.stdout != "" {
		t.Errorf("--action kill: stdout %q, want sysinfo killed before it returns", r.stdout)
	}

	r = load(t, "-v", prog, "calls", "110")
	for _, want := range []string{"(x86_64): kill on {getgid}, errno=EPERM on {sysinfo}, log on {getuid} (note)\n"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("-v: stderr %q, want %q", r.stderr, want)
		}
	}
	r = load(t, "-v", "--action", "log", prog, "calls", "110")
	for _, want := range []string{
		"(x86_64): log on {sysinfo,getuid,getgid} (note)\n",
		": --action log replaces, for this run, what the note says: kill; sysinfo: errno=EPERM, getuid: log\n",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("-v --action log: stderr %q, want %q", r.stderr, want)
		}
	}

	r = load(t, "--dump", prog)
	if !strings.Contains(r.stdout, "): kill on {getgid}, errno=EPERM on {sysinfo}, log on {getuid}\n") ||
		!strings.Contains(r.stdout, "ret  #0x50001                 ; ERRNO(1)") || !strings.Contains(r.stdout, "; LOG") {
		t.Errorf("--dump: %q, want the actions in the header and ERRNO(1) and LOG returns", r.stdout)
	}
	r = load(t, "--dump", "--action", "log", prog)
	if strings.Contains(r.stdout, "ERRNO") || strings.Contains(r.stdout, "KILL_PROCESS") && !strings.Contains(r.stdout, "; LOG") {
		t.Errorf("--dump --action log: %q, want only LOG returns", r.stdout)
	}
}

// TestExplainActions: --explain gives each restricted syscall the action
// the enforced run gives it, so the program behaves the same (the same
// output, the same end), and names every hit: kill each time, errno and
// log once per syscall. A trap (--action trap) it kills, and says so.
func TestExplainActions(t *testing.T) {
	need(t)
	prog := stampedActions(t, noteActions, 99, 102, 104)
	for _, tt := range []struct {
		name  string
		args  []string
		lines []string
	}{
		{"the note's actions", nil, []string{
			`^sysrestrict-exec: EPERM to \S+ \(pid \d+\), which goes on \(errno=EPERM; reported once\): sysinfo \(99, x86_64\) is restricted by the note`,
			`^sysrestrict-exec: logged and run in \S+ \(pid \d+\) \(log; reported once\): getuid \(102, x86_64\) is restricted by the note`,
			`^sysrestrict-exec: killed \S+ \(pid \d+\): getgid \(104, x86_64\) is restricted by the note`,
		}},
		{"--action trap", []string{"--action", "trap"}, []string{
			`^sysrestrict-exec: killed \S+ \(pid \d+\) \(trap: without --explain it gets a SIGSYS it may catch; --explain kills it\): sysinfo \(99, x86_64\)`,
		}},
		{"--action errno=ENOSYS", []string{"--action", "errno=ENOSYS"}, []string{
			`^sysrestrict-exec: ENOSYS to \S+ \(pid \d+\), which goes on \(errno=ENOSYS; reported once\): sysinfo \(99, x86_64\)`,
			`^sysrestrict-exec: ENOSYS to \S+ \(pid \d+\), which goes on \(errno=ENOSYS; reported once\): getuid \(102, x86_64\)`,
			`^sysrestrict-exec: ENOSYS to \S+ \(pid \d+\), which goes on \(errno=ENOSYS; reported once\): getgid \(104, x86_64\)`,
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			enforced := load(t, append(tt.args, append([]string{prog}, calls...)...)...)
			explained := load(t, append(append([]string{"--explain"}, tt.args...), append([]string{prog}, calls...)...)...)
			if tt.args != nil && tt.args[1] == "trap" {
				// Documented: --explain kills a trap.
				wantSIGSYS(t, "--explain --action trap", explained)
			} else if explained.stdout != enforced.stdout || explained.status != enforced.status || explained.signal != enforced.signal {
				t.Errorf("--explain: %v\nenforced: %v\nwant the same output and end", explained, enforced)
			}
			lines := strings.Split(strings.TrimSpace(explained.stderr), "\n")
			if len(lines) != len(tt.lines) {
				t.Fatalf("--explain: stderr %q, want %d lines", explained.stderr, len(tt.lines))
			}
			for i, l := range lines {
				if !regexp.MustCompile(tt.lines[i]).MatchString(l) {
					t.Errorf("--explain line %d = %q, want %s", i, l, tt.lines[i])
				}
			}
		})
	}
	// The trap run, checked on its own: each call caught, the program
	// goes on to the end.
	r := load(t, append([]string{"--action", "trap", prog}, calls...)...)
	if want := "SIGSYS nr 99\n"; r.signal != 0 || r.status != 0 || strings.Count(r.stdout, want) != 2 || !strings.Contains(r.stdout, "SIGSYS nr 104\nsyscall 104: ret 104 errno 0\nsyscall 107: ret 0 errno 0\n") {
		t.Errorf("--action trap: %v, want each call caught and exit 0", r)
	}
}

// TestBadActionNote: a stamp whose action note no reader accepts (an
// override of a syscall whose bitmap bit was cleared afterwards, a
// default of SECCOMP_RET_ALLOW) is refused with 126, and nothing runs.
func TestBadActionNote(t *testing.T) {
	need(t)
	for _, tt := range []struct {
		name string
		edit func(b []byte, loc elfnote.Location)
	}{
		{"override of an allowed syscall", func(b []byte, loc elfnote.Location) { b[loc.BitmapOff+99/8] &^= 1 << (99 % 8) }},
		{"default ALLOW", func(b []byte, loc elfnote.Location) {
			binary.LittleEndian.PutUint32(b[loc.ActionOff+4:], filter.SECCOMP_RET_ALLOW)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			prog := stampedActions(t, noteActions, 99, 102, 104)
			f, err := elfnote.ReadFile(prog)
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(prog)
			if err != nil {
				t.Fatal(err)
			}
			tt.edit(b, f.Note)
			if err := os.WriteFile(prog, b, 0o755); err != nil {
				t.Fatal(err)
			}
			marker := filepath.Join(t.TempDir(), "ran")
			r := load(t, prog, "marker", marker)
			if _, err := os.Stat(marker); err == nil || r.status != ExitCannotRun || !strings.Contains(r.stderr, "NT_SYSRESTRICT_ACTION") {
				t.Errorf("%s: %v, marker made %v; want 126 naming NT_SYSRESTRICT_ACTION, nothing run", tt.name, r, err == nil)
			}
		})
	}
}
