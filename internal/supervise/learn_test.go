//go:build linux

package supervise

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysrestrict/sysrestrict/internal/testutil"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/profile"
)

// direct runs argv without supervision and returns its stdout and status.
func direct(t *testing.T, argv []string) (string, unix.WaitStatus) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running %v: %v", argv, err)
	}
	return out.String(), unix.WaitStatus(cmd.ProcessState.Sys().(syscall.WaitStatus))
}

// record runs argv under Record with stdout captured.
func record(t *testing.T, argv []string, env ...string) (*profile.Profile, string, unix.WaitStatus) {
	t.Helper()
	out, read := capture(t)
	p, ws, err := Record(context.Background(), Config{Path: argv[0], Argv: argv, Env: append(os.Environ(), env...), Stdout: out})
	if err != nil {
		t.Fatalf("Record(%v): %v", argv, err)
	}
	return p, read(), ws
}

// capture returns a file to give a child as stdout and a function that
// returns what was written to it.
func capture(t *testing.T) (*os.File, func() string) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, func() string {
		b, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
}

func names(p *profile.Profile, abi bitmap.ABI) []string {
	var n []string
	for _, sc := range p.Syscalls() {
		if sc.ABI == abi {
			n = append(n, sc.Name)
		}
	}
	return n
}

func executables(p *profile.Profile, name string) []string {
	var paths []string
	for _, nr := range bitmap.X86_64.Lookup(name) {
		for _, id := range p.MadeBy(bitmap.X86_64, nr) {
			paths = append(paths, id.Path)
		}
	}
	return paths
}

// TestRecordRealPrograms learns programs of the machine and checks that the
// run behaves as without supervision (same stdout, same status) and that
// the profile holds the syscalls the program's work needs, including those
// of its children, and not the loader's own exec.
func TestRecordRealPrograms(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skipf("expected syscall names are x86_64's; GOARCH is %s", runtime.GOARCH)
	}
	data := filepath.Join(t.TempDir(), "data.txt")
	if err := os.WriteFile(data, bytes.Repeat([]byte("sysrestrict learns\n"), 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	// ls -la of a directory of our own: / changes under us (/tmp's link
	// count and times move whenever another process makes a directory).
	dir := filepath.Join(t.TempDir(), "dir")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "file"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	goBin := need(t, "go")
	tests := []struct {
		name  string
		tools []string
		argv  []string
		want  []string // syscalls the profile must hold
		exes  []string // base names of executables that must appear for want[0]
	}{
		{"ls", []string{"ls"}, []string{"ls", "-la", dir}, []string{"getdents64", "statx", "write", "exit_group"}, []string{"ls"}},
		{"gzip", []string{"gzip"}, []string{"gzip", "-c", data}, []string{"read", "write", "openat"}, []string{"gzip"}},
		{"python3", []string{"python3"}, []string{"python3", "-c", "import json; print(1)"}, []string{"getdents64", "write", "openat"}, []string{"python3"}},
		{"sh pipeline", []string{"sh", "ls", "wc"}, []string{"sh", "-c", "ls " + dir + " | wc -l"}, []string{"getdents64", "pipe2", "wait4", "execve"}, []string{"ls"}},
		{"go", nil, []string{goBin, "env", "GOARCH"}, []string{"clone", "futex", "rt_sigaction", "write"}, []string{"go"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, tool := range tt.tools {
				need(t, tool)
			}
			argv := slices.Clone(tt.argv)
			if !strings.Contains(argv[0], "/") {
				argv[0] = need(t, argv[0])
			}
			wantOut, wantWS := direct(t, argv)
			p, out, ws := record(t, argv)
			if out != wantOut {
				t.Errorf("stdout under Record = %q, want %q (unsupervised)", out, wantOut)
			}
			if ws != wantWS {
				t.Errorf("status under Record = %s, want %s", Status(ws), Status(wantWS))
			}
			got := names(p, bitmap.X86_64)
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("profile of %v lacks %s; has %v", tt.argv, w, got)
				}
			}
			if slices.Contains(got, "execveat") {
				t.Errorf("profile of %v holds execveat, the loader's own exec", tt.argv)
			}
			for _, exe := range tt.exes {
				if !slices.ContainsFunc(executables(p, tt.want[0]), func(e string) bool { return strings.HasPrefix(filepath.Base(e), exe) }) {
					t.Errorf("executables of %s = %v, want one named %s", tt.want[0], executables(p, tt.want[0]), exe)
				}
			}
			if len(p.Runs) != 1 || p.Runs[0].ABI != bitmap.X86_64 || p.Runs[0].Status != Status(wantWS) || p.Runs[0].Executable == "" {
				t.Errorf("runs = %+v, want one x86_64 run with status %s and its executable", p.Runs, Status(wantWS))
			}
		})
	}
}

// TestRecordThreadsAndChildren: a syscall made only by a second thread,
// and one made only by a forked child, are both recorded.
func TestRecordThreadsAndChildren(t *testing.T) {
	tests := []struct {
		victim, syscall, out string
	}{
		{"threads", "sysinfo", "threads ok 0\n"},
		{"fork", "times", "child ok\nparent ok\n"},
	}
	for _, tt := range tests {
		t.Run(tt.victim, func(t *testing.T) {
			bin := victim(t, tt.victim)
			p, out, ws := record(t, []string{bin})
			if !ws.Exited() || ws.ExitStatus() != 0 || out != tt.out {
				t.Fatalf("Record(%s) = %s, stdout %q; want exit 0, %q", tt.victim, Status(ws), out, tt.out)
			}
			if got := executables(p, tt.syscall); !slices.Contains(got, bin) {
				t.Errorf("executables of %s = %v, want %s there; profile: %v", tt.syscall, got, bin, names(p, bitmap.X86_64))
			}
		})
	}
}

// TestStatusPassesThrough: PROGRAM's exit code and death by signal come
// back unchanged.
func TestStatusPassesThrough(t *testing.T) {
	sh := need(t, "sh")
	for _, script := range []string{"exit 0", "exit 7", "kill -TERM $$", "kill -SEGV $$"} {
		argv := []string{sh, "-c", script}
		_, want := direct(t, argv)
		_, _, got := record(t, argv)
		if got != want {
			t.Errorf("Record(sh -c %q) status = %s, want %s", script, Status(got), Status(want))
		}
	}
}

// TestRecordNotStarted: a PROGRAM the child cannot execute gives
// ErrNotStarted and the child's status 126, and nothing is learned.
func TestRecordNotStarted(t *testing.T) {
	notExec := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(notExec, []byte("not a program"), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr, read := capture(t)
	_, ws, err := Record(context.Background(), Config{Path: notExec, Argv: []string{notExec}, Stderr: stderr})
	if !errors.Is(err, ErrNotStarted) || !ws.Exited() || ws.ExitStatus() != exitExec {
		t.Errorf("Record(non-executable) = %s, %v; want exit %d, ErrNotStarted", Status(ws), err, exitExec)
	}
	if want := "sysrestrict-exec: " + notExec + ": execve: permission denied\n"; read() != want {
		t.Errorf("child's stderr = %q, want %q", read(), want)
	}
}

// TestLearnMerges: learning twice into one file merges the runs.
func TestLearnMerges(t *testing.T) {
	bin := victim(t, "fork")
	path := filepath.Join(t.TempDir(), "fork.profile.json")
	out, _ := capture(t)
	var counts []uint64
	for i := range 2 {
		ws, err := Learn(context.Background(), Config{Path: bin, Argv: []string{bin}, Stdout: out}, path)
		if err != nil || !ws.Exited() || ws.ExitStatus() != 0 {
			t.Fatalf("Learn #%d = %s, %v; want exit 0", i, Status(ws), err)
		}
		p, err := profile.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Runs) != i+1 {
			t.Fatalf("after Learn #%d: %d runs, want %d", i, len(p.Runs), i+1)
		}
		for _, sc := range p.Syscalls() {
			if sc.Name == "times" {
				counts = append(counts, sc.Count)
			}
		}
	}
	if want := []uint64{1, 2}; !slices.Equal(counts, want) {
		t.Errorf("count of times after each Learn = %v, want %v", counts, want)
	}
}

// TestSIGTERMForwarded: SIGTERM sent to the supervisor reaches PROGRAM,
// whose death by it comes back as the status.
func TestSIGTERMForwarded(t *testing.T) {
	sleep := need(t, "sleep")
	// A safety net: should Record end early, SIGTERM must not end the
	// test binary.
	net := make(chan os.Signal, 1)
	signal.Notify(net, unix.SIGTERM)
	defer signal.Stop(net)
	go func() {
		time.Sleep(300 * time.Millisecond) // Record has its handler in place long before
		unix.Kill(os.Getpid(), unix.SIGTERM)
	}()
	start := time.Now()
	_, _, ws := record(t, []string{sleep, "10"})
	if !ws.Signaled() || ws.Signal() != unix.SIGTERM || time.Since(start) > 5*time.Second {
		t.Errorf("Record(sleep 10) with SIGTERM sent to the supervisor = %s after %v, want signal SIGTERM at once", Status(ws), time.Since(start))
	}
}

// TestRecordABIs: an x32 syscall made by an x86_64 program is recorded
// under the x32 ABI, with its number in x32's table.
func TestRecordABIs(t *testing.T) {
	bin := victim(t, "x32call")
	p, _, ws := record(t, []string{bin})
	if !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("Record(x32call) = %s", Status(ws))
	}
	if got, want := p.ABIs(), []bitmap.ABI{bitmap.X86_64, bitmap.X32}; !slices.Equal(got, want) {
		t.Errorf("ABIs() = %v, want %v", got, want)
	}
	if got, want := names(p, bitmap.X32), []string{"getpid"}; !slices.Equal(got, want) {
		t.Errorf("x32 syscalls = %v, want %v", got, want)
	}
}

// children returns the pids of the processes whose parent is ppid and
// whose command name is comm.
func children(ppid int, comm string) []int {
	var pids []int
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(ppid) && strings.Contains(string(b), "("+comm+")") {
			pid, _ := strconv.Atoi(strings.Fields(string(b))[0])
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestJobControl: a supervised program that stops stays stopped until
// SIGCONT, as without a supervisor (PTRACE_LISTEN on group-stops).
func TestJobControl(t *testing.T) {
	sh := need(t, "sh")
	const pause = 500 * time.Millisecond
	cont := make(chan time.Time, 1)
	go func() {
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			for _, pid := range children(os.Getpid(), "sh") {
				b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
				if strings.Contains(string(b), ") t ") || strings.Contains(string(b), ") T ") {
					time.Sleep(pause)
					cont <- time.Now()
					unix.Kill(pid, unix.SIGCONT)
					return
				}
			}
		}
		close(cont)
	}()
	_, out, ws := record(t, []string{sh, "-c", "kill -STOP $$; echo resumed"})
	end := time.Now()
	sent, ok := <-cont
	if !ok {
		t.Fatalf("the supervised sh never stopped; it ended %s, stdout %q", Status(ws), out)
	}
	if !ws.Exited() || ws.ExitStatus() != 0 || out != "resumed\n" {
		t.Errorf("sh stopping itself = %s, stdout %q; want exit 0, \"resumed\"", Status(ws), out)
	}
	if end.Before(sent) {
		t.Errorf("sh ended %v before SIGCONT was sent: the supervisor resumed it", sent.Sub(end))
	}
}

// TestFailClosed: when the supervisor dies, what it traced dies with it
// (PTRACE_O_EXITKILL): nothing goes on running unsupervised.
func TestFailClosed(t *testing.T) {
	sleep := need(t, "sleep")
	if testutil.InSubprocess(t) {
		// A supervisor of its own, which the parent kills.
		Record(context.Background(), Config{Path: sleep, Argv: []string{sleep, "30"}})
		os.Exit(0)
	}
	sup := testutil.Command(t)
	if err := sup.Start(); err != nil {
		t.Fatal(err)
	}
	defer sup.Wait()
	// Find the supervised sleep: the supervisor's child, once it has
	// executed sleep.
	var victim int
	for deadline := time.Now().Add(5 * time.Second); victim == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if pids := children(sup.Process.Pid, "sleep"); len(pids) > 0 {
			victim = pids[0]
		}
	}
	if victim == 0 {
		sup.Process.Kill()
		t.Fatal("the supervised sleep did not appear")
	}
	sup.Process.Kill()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(victim) + "/stat")
		if err != nil || strings.Contains(string(b), ") Z ") {
			return // gone, or a zombie awaiting its reaper
		}
	}
	unix.Kill(victim, unix.SIGKILL)
	t.Errorf("supervised sleep (pid %d) still runs 5 s after its supervisor was killed", victim)
}

// TestRecordCancel: cancelling the context kills the supervised program.
func TestRecordCancel(t *testing.T) {
	sleep := need(t, "sleep")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, ws, err := Record(ctx, Config{Path: sleep, Argv: []string{sleep, "30"}})
	if !errors.Is(err, context.DeadlineExceeded) || !ws.Signaled() || ws.Signal() != unix.SIGKILL || time.Since(start) > 5*time.Second {
		t.Errorf("Record(sleep 30) with a 300 ms deadline = %s, %v after %v; want SIGKILL, DeadlineExceeded at once", Status(ws), err, time.Since(start))
	}
}
