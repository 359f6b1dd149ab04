//go:build linux

package supervise

import (
	"bytes"
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
	"github.com/sysrestrict/sysrestrict/pkg/profile"
)

// audit runs argv under Audit, executing it from an open file as the
// loader does, and returns the report, the status and stdout.
func audit(t *testing.T, argv []string, note, deny bitmap.Set) (*AuditReport, unix.WaitStatus, string) {
	t.Helper()
	f, err := os.Open(argv[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out, read := capture(t)
	r, ws, err := Audit(context.Background(), Config{Path: argv[0], File: f, Argv: argv, Env: os.Environ(), Stdout: out}, note, deny)
	if err != nil {
		t.Fatalf("Audit(%v): %v", argv, err)
	}
	return r, ws, read()
}

// hitNames returns the report's hits as "exe:name:count", exe the base
// name of the executable.
func hitNames(r *AuditReport) []string {
	var s []string
	for _, h := range r.Hits {
		base := h.Exe.Path[strings.LastIndex(h.Exe.Path, "/")+1:]
		s = append(s, base+":"+h.ABI.Name(h.Nr)+":"+strconvU(h.Count))
	}
	return s
}

func strconvU(n uint64) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		if n /= 10; n == 0 {
			return string(b)
		}
	}
}

// TestAuditThreadAndChild: a restricted syscall made by a second thread,
// or by a forked child, runs (the victim prints what it returned), and is
// recorded with its executable and thread; the run ends as it would
// unrestricted. Explain, on the same note, kills both.
func TestAuditThreadAndChild(t *testing.T) {
	tests := []struct {
		victim, syscall, out string
	}{
		{"threads", "sysinfo", "threads ok 0\n"},
		{"fork", "times", "child ok\nparent ok\n"},
	}
	for _, tt := range tests {
		t.Run(tt.victim, func(t *testing.T) {
			bin := victim(t, tt.victim)
			note := bitmap.NewSet(bitmap.X86_64, nrs(t, tt.syscall, "ptrace")...)
			r, ws, out := audit(t, []string{bin}, note, bitmap.Set{})
			if !ws.Exited() || ws.ExitStatus() != 0 || out != tt.out {
				t.Errorf("Audit(%s) = %s, stdout %q; want exit 0, %q", tt.victim, Status(ws), out, tt.out)
			}
			want := []string{tt.victim + ":" + tt.syscall + ":1"}
			if got := hitNames(r); !slices.Equal(got, want) {
				t.Fatalf("Audit(%s) hits = %v, want %v", tt.victim, got, want)
			}
			h := r.Hits[0]
			if h.Exe.Path != bin || h.Exe.BuildID == "" || len(h.Pids) != 1 || h.Pids[0] <= 0 {
				t.Errorf("hit = %+v, want %s with its build ID and one thread", h, bin)
			}
			if r.Program != h.Exe {
				t.Errorf("Program = %v, want %v", r.Program, h.Exe)
			}
			p := r.Profile
			if len(p.Runs) != 1 || p.Runs[0].Mode != profile.ModeAudit || p.Runs[0].Status != "exit 0" || p.Runs[0].Executable != bin {
				t.Errorf("runs = %+v, want one audit run of %s, exit 0", p.Runs, bin)
			}
			if got := names(p, bitmap.X86_64); !slices.Equal(got, []string{tt.syscall}) {
				t.Errorf("profile syscalls = %v, want [%s]", got, tt.syscall)
			}
			ws, _, _ = explain(t, []string{bin}, note, bitmap.Set{})
			if !ws.Signaled() || ws.Signal() != unix.SIGSYS {
				t.Errorf("Explain(%s) = %s, want SIGSYS: the note restricts %s", tt.victim, Status(ws), tt.syscall)
			}
		})
	}
}

// TestAuditCounts: 1,000 restricted calls are 1,000 notifications, each
// let through; allowed syscalls are not recorded.
func TestAuditCounts(t *testing.T) {
	bin := victim(t, "heavy")
	note := bitmap.NewSet(bitmap.X86_64, nrs(t, "getppid")...)
	r, ws, _ := audit(t, []string{bin, "1000"}, note, bitmap.Set{})
	if ws != 0 {
		t.Fatalf("Audit(heavy) = %s", Status(ws))
	}
	if got := hitNames(r); !slices.Equal(got, []string{"heavy:getppid:1000"}) {
		t.Errorf("hits = %v, want heavy:getppid:1000", got)
	}
}

// TestAuditSummary: the summary names each hit, what restricted it and
// how to allow them.
func TestAuditSummary(t *testing.T) {
	bin := victim(t, "fork")
	note := bitmap.Allowlist(bitmap.NewSet(bitmap.X86_64)) // every number restricted but @default
	r, ws, _ := audit(t, []string{bin}, note, bitmap.Set{})
	if ws != 0 {
		t.Fatalf("Audit(fork) under an empty allowlist = %s", Status(ws))
	}
	var b bytes.Buffer
	WriteAuditSummary(&b, r, "./fork", "audit.json", note, bitmap.Set{}, elfnote.Actions{})
	s := b.String()
	t.Logf("summary:\n%s", s)
	for _, want := range []string{
		"sysrestrict-exec: --audit ./fork: ",
		"  times (100, x86_64): 1 call by " + bin + " (pid ",
		"restricted by the note's allowlist; enforced: kill\n",
		"sysrestrict-exec: recorded in audit.json; to allow them, stamp again from the profile the allowlist came from and this one: sysrestrict-stamp --replace --allow-profile PROFILE --allow-profile audit.json ./fork\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	// A deny list: the stamp that drops the hits.
	note = bitmap.NewSet(bitmap.X86_64, nrs(t, "times", "ptrace")...)
	r, _, _ = audit(t, []string{bin}, note, bitmap.Set{})
	b.Reset()
	WriteAuditSummary(&b, r, "./fork", "a.json", note, bitmap.Set{}, elfnote.Actions{})
	if want := "; to allow them: sysrestrict-stamp --replace --deny ptrace ./fork\n"; !strings.Contains(b.String(), want) {
		t.Errorf("summary lacks %q:\n%s", want, b.String())
	}
}

// TestAuditListenerOutOfReach: the audited program finds no listener among
// its descriptors, cannot take its supervisor's (pidfd_getfd, /proc/PPID/fd)
// nor attach to it; its restricted syscall still runs and is recorded.
func TestAuditListenerOutOfReach(t *testing.T) {
	bin := victim(t, "auditescape")
	note := bitmap.NewSet(bitmap.X86_64, nrs(t, "getppid")...)
	r, ws, out := audit(t, []string{bin, "listener"}, note, bitmap.Set{})
	want := "own listeners: 0\n" +
		"parent's descriptors taken: 0, listeners: 0, error: Operation not permitted\n" +
		"parent's /proc/PID/fd: listed, links read: 0, listeners reopened: 0\n" +
		"attach parent: Operation not permitted\n" +
		"getppid: ran\n"
	if ws != 0 || out != want {
		t.Errorf("Audit(auditescape listener) = %s, stdout:\n%s\nwant:\n%s", Status(ws), out, want)
	}
	// The attacks work on a parent that does not stand guard: run
	// directly, the victim takes the test binary's descriptors.
	if out, _ := direct(t, []string{bin, "listener", "noattach"}); !strings.Contains(out, "parent's descriptors taken: ") || strings.Contains(out, "taken: 0,") || strings.Contains(out, "links read: 0,") {
		t.Errorf("auditescape listener, run directly: %q; want the parent's descriptors taken and its links read", out)
	}
	if got := hitNames(r); !slices.Equal(got, []string{"auditescape:getppid:2"}) {
		t.Errorf("hits = %v, want auditescape:getppid:2 (it asks for its parent first)", got)
	}
}

// TestAuditRace: while the main thread's restricted openat waits for the
// supervisor, a second thread changes the path it points at. The
// supervisor reads nothing of the task's memory and answers every
// notification CONTINUE, so there is nothing to race: every call is
// recorded once, by number, and runs with whatever path the kernel reads
// after the answer (here ENOENT for both).
func TestAuditRace(t *testing.T) {
	bin := victim(t, "auditescape")
	note := bitmap.NewSet(bitmap.X86_64, nrs(t, "openat")...)
	r, ws, out := audit(t, []string{bin, "race", "2000"}, note, bitmap.Set{})
	if ws != 0 || out != "race: 2000 of 2000 ENOENT\n" {
		t.Errorf("Audit(auditescape race) = %s, %q", Status(ws), out)
	}
	// The dynamic loader's openat calls come before main's.
	var n uint64
	for _, h := range r.Hits {
		if h.ABI == bitmap.X86_64 && h.ABI.Name(h.Nr) == "openat" {
			n += h.Count
		}
	}
	if n < 2000 || n > 2010 {
		t.Errorf("openat recorded %d times, want 2000 and the loader's few", n)
	}
}

// TestAuditX32: a syscall of another ABI (x32's getpid from an x86_64
// program) is let through and recorded with its ABI; the summary says no
// stamp allows it.
func TestAuditX32(t *testing.T) {
	bin := victim(t, "x32call")
	note := bitmap.NewSet(bitmap.X86_64, nrs(t, "ptrace")...)
	r, ws, out := audit(t, []string{bin}, note, bitmap.Set{})
	if ws != 0 || !strings.HasPrefix(out, "x32 getpid = ") {
		t.Errorf("Audit(x32call) = %s, %q", Status(ws), out)
	}
	if len(r.Hits) != 1 || r.Hits[0].ABI != bitmap.X32 || r.Hits[0].Nr != 39 || r.Hits[0].Arch != bitmap.AUDIT_ARCH_X86_64 {
		t.Fatalf("hits = %+v, want x32 39 with arch x86_64", r.Hits)
	}
	if got := r.Profile.MadeBy(bitmap.X32, 39); len(got) != 1 || got[0].Path != bin {
		t.Errorf("profile: x32 39 made by %v, want %s", got, bin)
	}
	var b bytes.Buffer
	WriteAuditSummary(&b, r, bin, "a.json", note, bitmap.Set{}, elfnote.Actions{})
	if want := "getpid (39, x32): 1 call by " + bin; !strings.Contains(b.String(), want) || !strings.Contains(b.String(), "another ABI than the note's (x86_64); no stamp allows it; enforced: kill") {
		t.Errorf("summary = %q, want %q and no stamp for it", b.String(), want)
	}
}

// TestAuditStatus: PROGRAM's exit code and death by signal come back
// unchanged, as under Record.
func TestAuditStatus(t *testing.T) {
	sh := need(t, "sh")
	sh, err := filepath.EvalSymlinks(sh)
	if err != nil {
		t.Fatal(err)
	}
	note := bitmap.NewSet(bitmap.X86_64, nrs(t, "ptrace")...)
	for _, script := range []string{"exit 0", "exit 7", "kill -TERM $$", "kill -SEGV $$"} {
		argv := []string{sh, "-c", script}
		_, want := direct(t, argv)
		_, got, _ := audit(t, argv, note, bitmap.Set{})
		if got != want {
			t.Errorf("Audit(sh -c %q) status = %s, want %s", script, Status(got), Status(want))
		}
	}
}

// TestAuditSIGTERMForwarded: SIGTERM sent to the audit supervisor reaches
// PROGRAM, through the same forwarding as --learn's, and PROGRAM's death
// by it is the status.
func TestAuditSIGTERMForwarded(t *testing.T) {
	sleep, err := filepath.EvalSymlinks(need(t, "sleep"))
	if err != nil {
		t.Fatal(err)
	}
	net := make(chan os.Signal, 1)
	signal.Notify(net, unix.SIGTERM)
	defer signal.Stop(net)
	go func() {
		time.Sleep(300 * time.Millisecond)
		unix.Kill(os.Getpid(), unix.SIGTERM)
	}()
	start := time.Now()
	_, ws, _ := audit(t, []string{sleep, "10"}, bitmap.NewSet(bitmap.X86_64, nrs(t, "ptrace")...), bitmap.Set{})
	if !ws.Signaled() || ws.Signal() != unix.SIGTERM || time.Since(start) > 5*time.Second {
		t.Errorf("Audit(sleep 10) with SIGTERM sent to the supervisor = %s after %v, want signal SIGTERM at once", Status(ws), time.Since(start))
	}
}
