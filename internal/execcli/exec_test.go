//go:build linux

package execcli

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/sysrestrict/sysrestrict/internal/hostcap"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
)

// The real-kernel tests run the loader, built from cmd/sysrestrict-exec,
// on small C victims (testdata/victims) built with cc, in child processes
// only: no filter is ever installed in the test process.

var (
	loader  string // path of the built sysrestrict-exec
	victim  string // path of the built victim
	escape  string // path of the built testdata/victims/escape.c
	signals string // path of the built testdata/victims/learn/signals.c
	// victimStatic is the victim linked statically (-static), for the
	// tests of embedded programs (embed_test.go), which start at the stub
	// with no interpreter before it.
	victimStatic string
	// auditEscape is the built testdata/victims/learn/auditescape.c.
	auditEscape string
	// skipReason says why the real-kernel tests cannot run.
	skipReason string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "execcli-test")
	if err != nil {
		panic(err)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		if err := build(dir); err != nil {
			skipReason = err.Error()
		}
		return m.Run()
	}()
	os.Exit(code)
}

func build(dir string) error {
	loader = filepath.Join(dir, "sysrestrict-exec")
	// sysrestrict-supervise goes beside the loader, where the loader
	// looks for it to run --learn and --explain.
	out, err := exec.Command("go", "build", "-o", dir+"/",
		"github.com/sysrestrict/sysrestrict/cmd/sysrestrict-exec",
		"github.com/sysrestrict/sysrestrict/cmd/sysrestrict-supervise").CombinedOutput()
	if err != nil {
		return errors.New("go build cmd/sysrestrict-exec cmd/sysrestrict-supervise: " + err.Error() + ": " + string(out))
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		return errors.New("no C compiler (cc) to build testdata/victims: " + err.Error())
	}
	victim = filepath.Join(dir, "victim")
	src, _ := filepath.Abs("../../testdata/victims/victim.c")
	out, err = exec.Command(cc, "-O2", "-pthread", "-o", victim, src).CombinedOutput()
	if err != nil {
		return errors.New("cc victim.c: " + err.Error() + ": " + string(out))
	}
	victimStatic = filepath.Join(dir, "victim-static")
	out, err = exec.Command(cc, "-O2", "-static", "-pthread", "-o", victimStatic, src).CombinedOutput()
	if err != nil {
		return errors.New("cc -static victim.c: " + err.Error() + ": " + string(out))
	}
	escape = filepath.Join(dir, "escape")
	src, _ = filepath.Abs("../../testdata/victims/escape.c")
	out, err = exec.Command(cc, "-O2", "-Wall", "-pthread", "-o", escape, src).CombinedOutput()
	if err != nil {
		return errors.New("cc escape.c: " + err.Error() + ": " + string(out))
	}
	signals = filepath.Join(dir, "signals")
	src, _ = filepath.Abs("../../testdata/victims/learn/signals.c")
	out, err = exec.Command(cc, "-O2", "-Wall", "-o", signals, src).CombinedOutput()
	if err != nil {
		return errors.New("cc signals.c: " + err.Error() + ": " + string(out))
	}
	auditEscape = filepath.Join(dir, "auditescape")
	src, _ = filepath.Abs("../../testdata/victims/learn/auditescape.c")
	out, err = exec.Command(cc, "-O2", "-Wall", "-pthread", "-o", auditEscape, src).CombinedOutput()
	if err != nil {
		return errors.New("cc auditescape.c: " + err.Error() + ": " + string(out))
	}
	return nil
}

// need skips the test when the loader or the victim could not be built;
// under CI=true that is a failure.
func need(t *testing.T) {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skipf("the victim tests are written for x86_64 numbers; this is %s", runtime.GOARCH)
	}
	if skipReason != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cannot run real-kernel tests: %s", skipReason)
		}
		t.Skipf("cannot run real-kernel tests: %s", skipReason)
	}
}

// result is how a child ended.
type result struct {
	stdout, stderr string
	status         int            // exit status, -1 if killed
	signal         syscall.Signal // the killing signal, 0 if it exited
}

func (r result) String() string {
	s := "exit " + strconv.Itoa(r.status)
	if r.signal != 0 {
		s = "signal " + r.signal.String()
	}
	return s + ", stdout " + strconv.Quote(r.stdout) + ", stderr " + strconv.Quote(r.stderr)
}

// runCmd runs name args with env (nil: the test's) and returns how it ended.
func runCmd(t *testing.T, env []string, name string, args ...string) result {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		ws := ee.Sys().(syscall.WaitStatus)
		r.status = ws.ExitStatus()
		if ws.Signaled() {
			r.signal = ws.Signal()
		}
	default:
		t.Fatalf("running %s: %v", name, err)
	}
	return r
}

// load runs the loader with args.
func load(t *testing.T, args ...string) result {
	t.Helper()
	return runCmd(t, nil, loader, args...)
}

// stamped returns a copy of the victim stamped with the named syscalls.
func stamped(t *testing.T, beyond bool, names ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "victim")
	copyFile(t, victim, path, 0o755)
	set := bitmap.NewSet(bitmap.X86_64)
	if len(names) > 0 {
		var err error
		if set, err = bitmap.Parse(bitmap.X86_64, strings.Join(names, ",")); err != nil {
			t.Fatal(err)
		}
	}
	set.SetDenyBeyond(beyond)
	if _, err := elfnote.Stamp(path, set, elfnote.Options{Replace: true}); err != nil {
		t.Fatalf("stamping %s: %v", path, err)
	}
	return path
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

func wantSIGSYS(t *testing.T, what string, r result) {
	t.Helper()
	if r.signal != syscall.SIGSYS {
		t.Errorf("%s: %v, want killed by SIGSYS", what, r)
	}
}

func wantExit(t *testing.T, what string, r result, status int, stdout string) {
	t.Helper()
	if r.signal != 0 || r.status != status || (stdout != "" && r.stdout != stdout) {
		t.Errorf("%s: %v, want exit %d with stdout %q", what, r, status, stdout)
	}
}

func TestDeniedKillsAllowedWorks(t *testing.T) {
	need(t)
	wantSIGSYS(t, "--deny ptrace: victim ptrace", load(t, "--deny", "ptrace", victim, "ptrace"))
	wantExit(t, "--deny ptrace: victim getppid", load(t, "--deny", "ptrace", victim, "getppid"), 0, "ok\n")
	wantExit(t, "no loader: victim ptrace", runCmd(t, nil, victim, "ptrace"), 0, "ptrace: ret 0 errno 0\n")
}

// TestExecDenied: a program whose note denies execve and execveat is
// started by the loader (the gate), and every exec it, a child or a thread
// then attempts is killed.
func TestExecDenied(t *testing.T) {
	need(t)
	prog := stamped(t, false, "execve", "execveat")
	wantExit(t, "starts", load(t, prog, "getppid"), 0, "ok\n")
	wantSIGSYS(t, "its execve", load(t, prog, "execve"))
	wantSIGSYS(t, "its execveat", load(t, prog, "execveat"))
	wantExit(t, "a forked child's execve", load(t, prog, "fork-exec"), 0, "child signal 31\n")
	wantSIGSYS(t, "a thread's execve", load(t, prog, "thread-exec"))
	// Unrestricted, each of them works.
	wantExit(t, "no loader: execve", runCmd(t, nil, prog, "execve"), 0, "")
	wantExit(t, "no loader: fork-exec", runCmd(t, nil, prog, "fork-exec"), 0, "child exit 0\n")
}

// TestX32Killed: a syscall number with the x32 bit is killed, where the
// kernel alone (x32 disabled here) answers ENOSYS.
func TestX32Killed(t *testing.T) {
	need(t)
	prog := stamped(t, false, "ptrace")
	wantSIGSYS(t, "x32 getppid under the loader", load(t, prog, "x32", "110"))
	wantExit(t, "x32 getppid without the loader", runCmd(t, nil, prog, "x32", "110"), 0, "")
}

func TestDenyBeyond(t *testing.T) {
	need(t)
	prog := stamped(t, true, "ptrace")
	wantSIGSYS(t, "syscall 1000 with DENY_BEYOND", load(t, prog, "syscall", "1000"))
	prog = stamped(t, false, "ptrace")
	wantExit(t, "syscall 1000 without DENY_BEYOND", load(t, prog, "syscall", "1000"), 0, "syscall: ret -1 errno 38\n")
}

func TestDenyStacksOnNote(t *testing.T) {
	need(t)
	prog := stamped(t, false, "ptrace")
	wantSIGSYS(t, "note's ptrace", load(t, "--deny", "getppid", prog, "ptrace"))
	wantSIGSYS(t, "--deny's getppid", load(t, "--deny", "getppid", prog, "getppid"))
	wantExit(t, "note alone: getppid", load(t, prog, "getppid"), 0, "ok\n")
	r := load(t, "-v", "--deny", "getppid", prog, "syscall", "39")
	if !strings.Contains(r.stderr, "kill on {ptrace,getppid} (note + --deny)") {
		t.Errorf("-v: stderr %q, want the stacked set and its sources", r.stderr)
	}
}

func TestActionErrno(t *testing.T) {
	need(t)
	wantExit(t, "errno=EPERM", load(t, "--deny", "ptrace", "--action", "errno=EPERM", victim, "ptrace"), 0, "ptrace: ret -1 errno 1\n")
	wantExit(t, "errno", load(t, "--deny", "ptrace", "--action=errno", victim, "ptrace"), 0, "ptrace: ret -1 errno 38\n")
	wantExit(t, "log", load(t, "--deny", "ptrace", "--action=log", victim, "ptrace"), 0, "ptrace: ret 0 errno 0\n")
	// An exec through the gate works with every action, and a later one
	// gets the action.
	prog := stamped(t, false, "execve", "execveat")
	wantExit(t, "errno on execve", load(t, "--action=errno=EACCES", prog, "execve"), 3, "execve: ret -1 errno 13\n")
	wantSIGSYS(t, "trap on execve", load(t, "--action=trap", prog, "execve"))
}

func TestExitStatuses(t *testing.T) {
	need(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "marker")
	ran := func() bool { _, err := os.Stat(marker); return err == nil }

	// --require on an unstamped binary.
	r := load(t, "--require", victim, "marker", marker)
	wantExit(t, "--require, unstamped", r, 126, "")
	if ran() || !strings.Contains(r.stderr, "no sysrestrict note") {
		t.Errorf("--require, unstamped: ran %v, stderr %q", ran(), r.stderr)
	}
	// --require on a stamped one runs it.
	wantExit(t, "--require, stamped", load(t, "--require", stamped(t, false, "ptrace"), "getppid"), 0, "ok\n")

	// Not found.
	wantExit(t, "missing path", load(t, filepath.Join(dir, "nope")), 127, "")
	wantExit(t, "missing in PATH", runCmd(t, []string{"PATH=" + dir}, loader, "nope-sysrestrict"), 127, "")

	// Not executable.
	noexec := filepath.Join(dir, "noexec")
	copyFile(t, victim, noexec, 0o644)
	wantExit(t, "not executable", load(t, noexec, "marker", marker), 126, "")
	wantExit(t, "not executable, in PATH", runCmd(t, []string{"PATH=" + dir}, loader, "noexec"), 126, "")
	wantExit(t, "a directory", load(t, dir), 126, "")

	// A bad note: unknown flag bits. Nothing runs.
	bad := stamped(t, true, "ptrace")
	ef, err := elfnote.ReadFile(bad)
	if err != nil || ef.Note.FlagsOff == 0 {
		t.Fatalf("reading the stamped victim: %v, flags at %d", err, ef.Note.FlagsOff)
	}
	f, err := os.OpenFile(bad, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{0x03, 0, 0, 0}, ef.Note.FlagsOff)
	f.Close()
	r = load(t, bad, "marker", marker)
	wantExit(t, "bad note", r, 126, "")
	if ran() {
		t.Errorf("bad note: the program ran")
	}
	// Without the loader the binary still runs (the note is inert).
	wantExit(t, "bad note, no loader", runCmd(t, nil, bad, "getppid"), 0, "ok\n")

	// A usage error, and an unresolvable --deny LIST.
	wantExit(t, "usage", load(t, "--frobnicate", victim), 125, "")
	wantExit(t, "unknown name", load(t, "--deny", "no_such_syscall", victim, "getppid"), 125, "")

	// Machines this host cannot enforce.
	for _, fx := range []string{"aarch64-pie", "s390x-pie"} {
		p := filepath.Join(dir, fx)
		copyFile(t, filepath.Join("../../testdata/elf", fx), p, 0o755)
		wantExit(t, fx+" with --deny", load(t, "--deny", "1", p), 126, "")
	}
}

func TestPathAndArgv0(t *testing.T) {
	need(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "show-argv0")
	os.WriteFile(script, []byte("#!/bin/sh\necho \"$0 $*\"\n"), 0o755)
	wantExit(t, "script in PATH", runCmd(t, []string{"PATH=" + dir + ":/usr/bin:/bin"}, loader, "show-argv0", "a", "b"), 0, script+" a b\n")
	wantExit(t, "script --require", load(t, "--require", script), 126, "")
	wantExit(t, "script --deny", load(t, "--deny", "ptrace", script), 126, "")
	// argv[0] is PROGRAM as given, or --argv0.
	sh := "/bin/sh"
	wantExit(t, "argv0 as given", load(t, "--deny", "ptrace", sh, "-c", "echo $0", "zero"), 0, "zero\n")
	wantExit(t, "--argv0", load(t, "--deny", "ptrace", "--argv0", "custom", "/bin/sh", "-c", "echo $0"), 0, "custom\n")
	prog := stamped(t, false, "ptrace")
	copyFile(t, prog, filepath.Join(dir, "victim"), 0o755)
	wantSIGSYS(t, "stamped, found in PATH", runCmd(t, []string{"PATH=" + dir}, loader, "victim", "ptrace"))
}

func TestHelpVersion(t *testing.T) {
	need(t)
	r := load(t, "--help")
	if r.status != 0 || !strings.Contains(r.stdout, "usage: sysrestrict-exec") {
		t.Errorf("--help: %v", r)
	}
	r = load(t, "--version")
	if r.status != 0 || !strings.HasPrefix(r.stdout, "sysrestrict-exec ") {
		t.Errorf("--version: %v", r)
	}
}

// TestSupervisedModes: --learn and --explain reach internal/supervise
// through the dispatch point (supervise.go), and the loader ends as
// PROGRAM did. internal/supervise tests the modes themselves.
func TestSupervisedModes(t *testing.T) {
	need(t)
	profile := filepath.Join(t.TempDir(), "profile.json")
	wantExit(t, "--learn", load(t, "--learn", profile, victim, "getppid"), 0, "ok\n")
	b, err := os.ReadFile(profile)
	if err != nil || !strings.Contains(string(b), `"getppid"`) {
		t.Errorf("--learn wrote %q, %v; want a profile naming getppid", b, err)
	}
	r := load(t, "--explain", "--deny", "ptrace", victim, "ptrace")
	wantSIGSYS(t, "--explain --deny ptrace", r)
	if !strings.Contains(r.stderr, "ptrace (101, x86_64)") {
		t.Errorf("--explain: stderr %q, want it to name ptrace (101, x86_64)", r.stderr)
	}
	wantExit(t, "--explain, allowed", load(t, "--explain", "--deny", "ptrace", victim, "getppid"), 0, "ok\n")
	wantExit(t, "--explain, nothing restricted", load(t, "--explain", victim, "getppid"), 126, "")
}

// TestSupervisorMissing: a loader installed without sysrestrict-supervise
// beside it says what is missing for --learn and --explain, and still runs
// programs itself.
func TestSupervisorMissing(t *testing.T) {
	need(t)
	alone := filepath.Join(t.TempDir(), "sysrestrict-exec")
	copyFile(t, loader, alone, 0o755)
	for _, args := range [][]string{{"--explain", "--deny", "ptrace"}, {"--learn", filepath.Join(t.TempDir(), "p.json")}} {
		cmd := exec.Command(alone, append(args, victim, "getppid")...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != ExitUsage || !strings.Contains(string(out), "sysrestrict-supervise") {
			t.Errorf("%v without sysrestrict-supervise = %v, %q; want %d naming it", args, err, out, ExitUsage)
		}
	}
	if out, err := exec.Command(alone, "--deny", "ptrace", victim, "getppid").CombinedOutput(); err != nil || string(out) != "ok\n" {
		t.Errorf("the loader alone = %v, %q; want it to run the victim", err, out)
	}
}

// TestExecFailsUnderFilter: an exec that fails once the filter is in (a
// relocatable object: ELF, readable, rejected by the kernel) reports and
// exits 126; with write(2) restricted it cannot report, and still exits
// 126 rather than dying of the filter.
func TestExecFailsUnderFilter(t *testing.T) {
	need(t)
	obj := filepath.Join(t.TempDir(), "hello.o")
	copyFile(t, "../../testdata/elf/x86_64-hello.o", obj, 0o755)
	r := load(t, "--deny", "ptrace", obj)
	wantExit(t, "filter, exec fails", r, 126, "")
	if !strings.Contains(r.stderr, "exec under the filter failed, nothing was run: exec format error") {
		t.Errorf("filter, exec fails: stderr %q", r.stderr)
	}
	r = load(t, "--deny", "write,ptrace", obj)
	wantExit(t, "write restricted, exec fails", r, 126, "")
	if r.stderr != "" {
		t.Errorf("write restricted, exec fails: stderr %q, want none", r.stderr)
	}
	wantExit(t, "no filter, exec fails", load(t, obj), 126, "")
}

// TestI386: an i386 program started by the x86_64 loader passes the gate
// on the loader's arch, then runs under a filter for the i386 arch: its
// restricted syscalls (i386 numbers) are killed, the others work.
func TestI386(t *testing.T) {
	need(t)
	// The gate and the i386 filter are also checked without the kernel, in
	// pkg/enforce's BPF model; this runs them for real where i386 runs.
	hostcap.Need(t, hostcap.I386Exec)
	prog := filepath.Join(t.TempDir(), "i386-exec")
	copyFile(t, "../../testdata/elf/i386-exec", prog, 0o755)
	plain := runCmd(t, nil, prog)
	if plain.status != 0 || plain.signal != 0 {
		t.Fatalf("the kernel execs i386 ELF files, but i386-exec without the loader: %v", plain)
	}
	wantExit(t, "i386, --deny ptrace", load(t, "--deny", "ptrace", prog), 0, plain.stdout)
	// write is 4 on i386 (1 on x86_64): the i386 table decides.
	wantSIGSYS(t, "i386, --deny write", load(t, "--deny", "write", prog))
	wantExit(t, "i386, --deny execve,execveat", load(t, "--deny", "execve,execveat", prog), 0, plain.stdout)
}

// TestVerboseAllowlist (issue 14): -v on an allowlist says what it
// allows (here read, write and @default), not the hundreds of numbers it
// restricts; with --deny on top, what is left allowed, and both sources.
func TestVerboseAllowlist(t *testing.T) {
	need(t)
	prog := filepath.Join(t.TempDir(), "victim")
	copyFile(t, victim, prog, 0o755)
	allowed, err := bitmap.ParseAllow(bitmap.X86_64, "read,write,getppid")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := elfnote.Stamp(prog, bitmap.Allowlist(allowed), elfnote.Options{Replace: true}); err != nil {
		t.Fatal(err)
	}
	const dflt = "mmap,mprotect,munmap,brk,rt_sigreturn,sched_yield,pause,nanosleep,getpid,exit,gettimeofday,getrlimit,getuid,getgid,geteuid,getegid,getppid,getpgrp,getgroups,getresuid,getresgid,getpgid,getsid,arch_prctl,gettid,time,futex,sched_getaffinity,set_thread_area,get_thread_area,set_tid_address,restart_syscall,clock_gettime,clock_getres,clock_nanosleep,exit_group,set_robust_list,get_robust_list,prlimit64,getrandom,membarrier,rseq,uretprobe,futex_waitv"
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-v", prog, "getppid"}, tool + ": " + prog + " (x86_64): allowlist (note) allows 46: {read,write," + dflt + "}; kill on every other syscall and every number from 512 up\n"},
		{[]string{"-v", "--deny", "write", prog, "getppid"}, tool + ": " + prog + " (x86_64): allowlist (note + --deny) allows 45: {read," + dflt + "}; kill on every other syscall and every number from 512 up\n"},
	} {
		r := load(t, tt.args...)
		if first, _, _ := strings.Cut(r.stderr, "\n"); first+"\n" != tt.want {
			t.Errorf("%v: stderr %q, want it to start %q", tt.args, r.stderr, tt.want)
		}
	}
}
