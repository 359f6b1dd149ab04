//go:build linux

package supervise

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysrestrict/sysrestrict/internal/testutil"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
)

// links are the ways the entry victim is linked: the kernel enters a
// dynamic program's interpreter (the skip rewrites AT_ENTRY, where ld.so
// jumps), a static one at its entry point (the program counter too), at
// a load bias (PIE, static-pie) or none (-no-pie, -static).
var links = []struct{ name, flag string }{
	{"pie", "-pie"},
	{"no-pie", "-no-pie"},
	{"static", "-static"},
	{"static-pie", "-static-pie"},
}

// embeddedEntry builds testdata/victims/learn/entry.c linked with flag,
// stamps it with note and embeds it, and returns its path and its stub as
// the loader hands it to the supervisor.
func embeddedEntry(t *testing.T, flag string, note bitmap.Set) (string, *Stub) {
	t.Helper()
	cc := need(t, "gcc")
	bin := filepath.Join(t.TempDir(), "entry")
	src := filepath.Join("..", "..", "testdata", "victims", "learn", "entry.c")
	if out, err := exec.Command(cc, "-O2", "-Wall", flag, "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("building %s %s: %v\n%s", src, flag, err, out)
	}
	if _, err := elfnote.Stamp(bin, note, elfnote.Options{Replace: true, Embed: true}); err != nil {
		t.Fatalf("stamping %s --embed: %v", bin, err)
	}
	s, err := stubOf(bin)
	if err != nil {
		t.Fatal(err)
	}
	return bin, s
}

// stubOf returns the stub of the embedded file path as the loader hands
// it to the supervisor.
func stubOf(path string) (*Stub, error) {
	f, err := elfnote.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if f.Embed == nil {
		return nil, errors.New(path + ": not embedded")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	e := f.Embed
	return &Stub{Addr: e.Vaddr, Entry: e.Entry, Payload: b[e.Offset : e.Offset+e.Size], Fixed: f.Type == elfnote.ET_EXEC}, nil
}

// enforceInChild is superviseInChild's Enforce: c.Argv[0] embedded, run
// past its stub with --action log, as sysrestrict-supervise runs it.
func enforceInChild(c Config) (WaitStatus, error) {
	s, err := stubOf(c.Argv[0])
	if err != nil {
		return 0, err
	}
	f, err := os.Open(c.Argv[0])
	if err != nil {
		return 0, err
	}
	c.File, c.Stub = f, s
	return Enforce(context.Background(), c, bitmap.NewSet(bitmap.X86_64, 101), filter.Options{Action: filter.Log(), StubCalls: true})
}

// TestEnforceSignals: under Enforce PROGRAM is untraced once it runs, so
// the supervisor cannot see the copies of a signal PROGRAM gets itself
// (TestSignalsForwarded). It passes on every signal sent to it but those
// a terminal sends to the foreground group, which PROGRAM, in the
// supervisor's group, got itself: each reaches PROGRAM once. Any other
// signal sent to the whole group reaches it twice, or once when the
// forwarded copy comes while PROGRAM's own is still pending (standard
// signals do not queue): the documented limit (docs/embed.md), so that
// case takes either count. want 0 stands for it.
func TestEnforceSignals(t *testing.T) {
	bin := victim(t, "signals")
	for _, tt := range []struct {
		sig  unix.Signal
		to   string
		want int
	}{
		{unix.SIGTERM, "pid", 1},
		{unix.SIGUSR1, "pid", 1},
		{unix.SIGHUP, "pid", 1},
		{unix.SIGINT, "group", 1},
		{unix.SIGQUIT, "group", 1},
		{unix.SIGWINCH, "group", 1},
		{unix.SIGTERM, "group", 0},
	} {
		t.Run(sigName(tt.sig)+" to the "+tt.to, func(t *testing.T) {
			if testutil.InSubprocess(t) {
				superviseInChild()
			}
			embedded := filepath.Join(t.TempDir(), "signals")
			b, err := os.ReadFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(embedded, b, 0o755); err != nil {
				t.Fatal(err)
			}
			if _, err := elfnote.Stamp(embedded, bitmap.NewSet(bitmap.X86_64, 101), elfnote.Options{Replace: true, Embed: true}); err != nil {
				t.Fatal(err)
			}
			t.Setenv(envTestEnforce, "log")
			c := supervisor(t, "", embedded, "catch", sigName(tt.sig))
			target := c.cmd.Process.Pid
			if tt.to == "group" {
				target = -target
			}
			if err := unix.Kill(target, tt.sig); err != nil {
				t.Fatal(err)
			}
			ws, out := c.wait()
			wants := []int{tt.want}
			if tt.want == 0 {
				wants = []int{1, 2}
			}
			ok := false
			for _, n := range wants {
				ok = ok || out == fmt.Sprintf("caught %s %d\n", unix.SignalName(tt.sig), n)
			}
			if !ws.Exited() || ws.ExitStatus() != 7 || !ok {
				t.Errorf("%s sent to the supervisor's %s: supervisor %s, program printed %q; want exit 7 and \"caught %s N\" for N in %v", unix.SignalName(tt.sig), tt.to, Status(ws), out, unix.SignalName(tt.sig), wants)
			}
		})
	}
}

// explainStub is explain with c.Stub set.
func explainStub(t *testing.T, argv []string, note bitmap.Set, s *Stub) (unix.WaitStatus, string, string, error) {
	t.Helper()
	f, err := os.Open(argv[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out, read := capture(t)
	var log bytes.Buffer
	ws, err := Explain(context.Background(), Config{Path: argv[0], File: f, Argv: argv, Stdout: out, Log: &log, Stub: s}, note, bitmap.Set{}, elfnote.Actions{})
	return ws, read(), log.String(), err
}

// TestSkipStub: under Explain an embedded program of every link starts at
// its original entry point (AT_ENTRY is its _start again, and its
// restricted syscall is explained, not killed by the stub's filter
// first); run directly it starts at the stub.
func TestSkipStub(t *testing.T) {
	note := bitmap.NewSet(bitmap.X86_64, nrs(t, "sysinfo")...)
	for _, l := range links {
		t.Run(l.name, func(t *testing.T) {
			bin, s := embeddedEntry(t, l.flag, note)
			out, err := exec.Command(bin).Output()
			if err != nil || string(out) != "entry elsewhere\n" {
				t.Errorf("%s run directly: %q, %v; want \"entry elsewhere\" (AT_ENTRY is the stub)", bin, out, err)
			}
			ws, stdout, _, err := explainStub(t, []string{bin}, note, s)
			if err != nil || !ws.Exited() || ws.ExitStatus() != 0 || stdout != "entry start\n" {
				t.Errorf("Explain(%s): %s, stdout %q, %v; want exit 0, \"entry start\"", bin, Status(ws), stdout, err)
			}
			ws, stdout, log, err := explainStub(t, []string{bin, "sysinfo"}, note, s)
			if err != nil || !ws.Signaled() || ws.Signal() != unix.SIGSYS || stdout != "entry start\n" || !strings.Contains(log, "sysinfo (99, x86_64) is restricted by the note") {
				t.Errorf("Explain(%s sysinfo): %s, stdout %q, log %q, %v; want SIGSYS, explained", bin, Status(ws), stdout, log, err)
			}
		})
	}
}

// TestSkipStubRefuses: a stub that is not what the memory at AT_ENTRY
// holds, or a fixed-address program loaded elsewhere, is not skipped: the
// program is killed before any of it runs, and Explain says why.
func TestSkipStubRefuses(t *testing.T) {
	note := bitmap.NewSet(bitmap.X86_64, nrs(t, "sysinfo")...)
	for _, tt := range []struct {
		name, flag string
		change     func(s *Stub)
		want       string
	}{
		{"a byte of the stub", "-pie", func(s *Stub) { s.Payload[0x20] ^= 1 }, "is not the stub the file holds"},
		{"the stub's last byte", "-static", func(s *Stub) { s.Payload[len(s.Payload)-1] ^= 0x80 }, "is not the stub the file holds"},
		{"another address", "-no-pie", func(s *Stub) { s.Addr += 0x1000 }, "not the stub's address"},
		{"a PIE taken for fixed", "-pie", func(s *Stub) { s.Fixed = true }, "not the stub's address"},
		{"an unaligned bias", "-static-pie", func(s *Stub) { s.Addr += 16 }, "page-aligned load bias"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bin, s := embeddedEntry(t, tt.flag, note)
			tt.change(s)
			_, stdout, _, err := explainStub(t, []string{bin}, note, s)
			if !errors.Is(err, ErrStub) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Explain: %v; want ErrStub saying %q", err, tt.want)
			}
			if stdout != "" {
				t.Errorf("Explain: stdout %q; want the program killed before it ran", stdout)
			}
		})
	}
}

// TestEnforce: Enforce runs an embedded program past its stub under the
// loader's filter with the action asked for, untraced once it runs.
func TestEnforce(t *testing.T) {
	note := bitmap.NewSet(bitmap.X86_64, nrs(t, "sysinfo", "prctl", "seccomp")...)
	for _, l := range links {
		t.Run(l.name, func(t *testing.T) {
			bin, s := embeddedEntry(t, l.flag, note)
			for _, tt := range []struct {
				act  filter.Action
				want string
			}{
				{filter.Log(), "entry start\nsysinfo: ret -1 errno 14\n"},
				{filter.Errno(1), "entry start\nsysinfo: ret -1 errno 1\n"},
			} {
				f, err := os.Open(bin)
				if err != nil {
					t.Fatal(err)
				}
				out, read := capture(t)
				ws, err := Enforce(context.Background(), Config{Path: bin, File: f, Argv: []string{bin, "sysinfo"}, Stdout: out, Stub: s},
					note, filter.Options{Action: tt.act, StubCalls: true})
				f.Close()
				if got := read(); err != nil || !ws.Exited() || ws.ExitStatus() != 0 || got != tt.want {
					t.Errorf("Enforce(%s, %v): %s, stdout %q, %v; want exit 0, %q", bin, tt.act, Status(ws), got, err, tt.want)
				}
			}
		})
	}
}

// TestEnforceStop: ^Z (SIGTSTP to the group) stops the untraced PROGRAM
// and then the supervisor, so that the shell sees its job stopped; kill
// -TSTP of the supervisor alone does the same (PROGRAM did not stop by
// itself, so the supervisor passes it on); SIGCONT, to the group or the
// supervisor, goes on with both.
func TestEnforceStop(t *testing.T) {
	bin := victim(t, "signals")
	for _, to := range []string{"group", "pid"} {
		t.Run("to the "+to, func(t *testing.T) {
			if testutil.InSubprocess(t) {
				superviseInChild()
			}
			embedded := filepath.Join(t.TempDir(), "signals")
			b, err := os.ReadFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(embedded, b, 0o755); err != nil {
				t.Fatal(err)
			}
			if _, err := elfnote.Stamp(embedded, bitmap.NewSet(bitmap.X86_64, 101), elfnote.Options{Replace: true, Embed: true}); err != nil {
				t.Fatal(err)
			}
			t.Setenv(envTestEnforce, "log")
			c := supervisor(t, "", embedded, "stop")
			prog := c.program()
			target := c.cmd.Process.Pid
			if to == "group" {
				target = -target
			}
			if err := unix.Kill(target, unix.SIGTSTP); err != nil {
				t.Fatal(err)
			}
			var ws unix.WaitStatus
			if _, err := unix.Wait4(c.cmd.Process.Pid, &ws, unix.WUNTRACED, nil); err != nil {
				t.Fatal(err)
			}
			if !ws.Stopped() || ws.StopSignal() != unix.SIGTSTP {
				t.Fatalf("after SIGTSTP to the %s, the supervisor is %s (%#x), want stopped by SIGTSTP", to, Status(ws), int(ws))
			}
			if st := procState(prog); st != "T" {
				t.Errorf("the supervisor stopped, the program is in state %s, want stopped (T)", st)
			}
			time.Sleep(2 * time.Second) // longer than the victim's sleep
			if st := procState(prog); st != "T" {
				t.Errorf("2 s later the program is in state %s, want stopped (T)", st)
			}
			if err := unix.Kill(target, unix.SIGCONT); err != nil {
				t.Fatal(err)
			}
			ws, out := c.wait()
			if !ws.Exited() || ws.ExitStatus() != 0 || out != "done\n" {
				t.Errorf("after SIGCONT to the %s: supervisor %s, program printed %q; want exit 0, \"done\"", to, Status(ws), out)
			}
		})
	}
}
