//go:build linux

package supervise

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysrestrict/sysrestrict/internal/testutil"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
	"github.com/sysrestrict/sysrestrict/pkg/profile"
)

// The environment of a supervisor subprocess (superviseInChild).
const (
	envTestArgv    = "SUPERVISE_TEST_ARGV"    // PROGRAM's argv, one per line
	envTestProfile = "SUPERVISE_TEST_PROFILE" // Learn into this file ("audit:FILE": AuditTo it); unset: Explain under a note restricting ptrace
	envTestEnforce = "SUPERVISE_TEST_ENFORCE" // set: Enforce the embedded argv[0] with --action log (stub_test.go)
)

// superviseInChild is the subprocess side of supervisor: it supervises
// the program its environment names and ends as the program ended.
func superviseInChild() {
	argv := strings.Split(os.Getenv(envTestArgv), "\n")
	c := Config{Path: argv[0], Argv: argv, Env: os.Environ()}
	var ws WaitStatus
	var err error
	if p, ok := strings.CutPrefix(os.Getenv(envTestProfile), "audit:"); ok {
		_, ws, err = AuditTo(context.Background(), c, bitmap.NewSet(bitmap.X86_64, 101), bitmap.NewSet(bitmap.X86_64), p)
	} else if p != "" {
		ws, err = Learn(context.Background(), c, p)
	} else if os.Getenv(envTestEnforce) != "" {
		ws, err = enforceInChild(c)
	} else {
		ws, err = Explain(context.Background(), c, bitmap.NewSet(bitmap.X86_64, 101), bitmap.NewSet(bitmap.X86_64), elfnote.Actions{})
	}
	// The subprocess built the victim too (TestMain's cleanup does not
	// run past Exit): remove it, PROGRAM having ended.
	if victims.dir != "" {
		os.RemoveAll(victims.dir)
	}
	if err != nil {
		os.Stderr.WriteString("supervisor: " + err.Error() + "\n")
		os.Exit(125)
	}
	Exit(ws)
}

// child is a supervisor subprocess and what it printed.
type child struct {
	t     *testing.T
	cmd   *exec.Cmd
	lines chan string
	out   strings.Builder
}

// supervisor starts a subprocess of the test binary that supervises argv
// (Learn into profile, or Explain if profile is ""), in a process group
// of its own, as a shell starts a job; PROGRAM is in that group too. It
// returns once PROGRAM has printed "ready".
func supervisor(t *testing.T, profile string, argv ...string) *child {
	t.Helper()
	cmd := testutil.Command(t)
	cmd.Env = append(cmd.Env, envTestArgv+"="+strings.Join(argv, "\n"), envTestProfile+"="+profile)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{t: t, cmd: cmd, lines: make(chan string, 64)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		io.Copy(io.Discard, stdout)
		close(c.lines)
	}()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				cmd.Wait()
				t.Fatalf("supervisor of %v ended (%v) before the program was ready; stdout:\n%s", argv, cmd.ProcessState, c.out.String())
			}
			c.out.WriteString(l + "\n")
			if l == "ready" {
				return c
			}
		case <-timeout:
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the supervised %v was not ready in 20 s; stdout:\n%s", argv, c.out.String())
		}
	}
}

// wait waits for the supervisor to end and returns its wait status and
// everything the program printed after "ready". After 20 s it kills the
// supervisor's process group (the program with it) and fails the test.
func (c *child) wait() (unix.WaitStatus, string) {
	c.t.Helper()
	var rest strings.Builder
	timeout := time.After(20 * time.Second)
	for open := true; open; {
		select {
		case l, ok := <-c.lines:
			if open = ok; ok && !strings.HasPrefix(l, "=== RUN") {
				rest.WriteString(l + "\n")
			}
		case <-timeout:
			unix.Kill(-c.cmd.Process.Pid, unix.SIGKILL)
			c.cmd.Wait()
			c.t.Fatalf("the supervisor did not end in 20 s (killed); the program printed %q", rest.String())
		}
	}
	c.cmd.Wait()
	return unix.WaitStatus(c.cmd.ProcessState.Sys().(syscall.WaitStatus)), rest.String()
}

// program returns the pid of the supervised program: the supervisor's
// child running the signals victim.
func (c *child) program() int {
	c.t.Helper()
	pids := children(c.cmd.Process.Pid, "signals")
	if len(pids) != 1 {
		c.t.Fatalf("supervisor %d has children %v named signals, want one", c.cmd.Process.Pid, pids)
	}
	return pids[0]
}

func sigName(s unix.Signal) string { return strings.TrimPrefix(unix.SignalName(s), "SIG") }

// TestSignalsForwarded: every signal of Forwarded sent to the supervisor
// (kill PID, as a script's kill -INT $!) reaches PROGRAM once; sent to the
// process group both are in (the terminal's ^C, kill -INT -PGID), PROGRAM
// gets its own copy, and the supervisor's is not passed on again: once,
// too. The victim handles the signal, waits 800 ms more for a second copy,
// prints how many it got and exits 7, which the supervisor passes on.
func TestSignalsForwarded(t *testing.T) {
	bin := victim(t, "signals")
	for _, sig := range Forwarded {
		if sig == unix.SIGTSTP {
			continue // TestSignalsStop
		}
		for _, to := range []string{"pid", "group"} {
			t.Run(sigName(sig)+" to the "+to, func(t *testing.T) {
				if testutil.InSubprocess(t) {
					superviseInChild()
				}
				t.Parallel()
				c := supervisor(t, filepath.Join(t.TempDir(), "p.json"), bin, "catch", sigName(sig))
				target := c.cmd.Process.Pid
				if to == "group" {
					target = -target
				}
				if err := unix.Kill(target, sig); err != nil {
					t.Fatal(err)
				}
				ws, out := c.wait()
				if want := "caught " + unix.SignalName(sig) + " 1\n"; !ws.Exited() || ws.ExitStatus() != 7 || out != want {
					t.Errorf("%s sent to the supervisor's %s: supervisor %s, program printed %q; want exit 7 and %q", unix.SignalName(sig), to, Status(ws), out, want)
				}
			})
		}
	}
}

// TestSignalsGroupSlowSupervisor: a signal to the group reaches PROGRAM
// and the supervisor, and the supervisor is slow to see its own: PROGRAM
// has taken its copy already (it waits in its signal-delivery-stop for
// the tracer, which is stopped too). The supervisor must not pass its copy
// on: PROGRAM gets the signal once.
func TestSignalsGroupSlowSupervisor(t *testing.T) {
	bin := victim(t, "signals")
	if testutil.InSubprocess(t) {
		superviseInChild()
	}
	c := supervisor(t, filepath.Join(t.TempDir(), "p.json"), bin, "catch", "INT")
	prog := c.program()
	sup := c.cmd.Process.Pid
	if err := unix.Kill(sup, unix.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); procState(sup) != "T"; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the supervisor did not stop: state %s", procState(sup))
		}
	}
	if err := unix.Kill(-sup, unix.SIGINT); err != nil {
		t.Fatal(err)
	}
	// PROGRAM dequeues its copy and stops for its tracer (state t).
	for deadline := time.Now().Add(5 * time.Second); procState(prog) != "t"; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the program did not stop for its signal: state %s", procState(prog))
		}
	}
	if err := unix.Kill(sup, unix.SIGCONT); err != nil {
		t.Fatal(err)
	}
	ws, out := c.wait()
	if want := "caught SIGINT 1\n"; !ws.Exited() || ws.ExitStatus() != 7 || out != want {
		t.Errorf("SIGINT to the group while the supervisor was stopped: supervisor %s, program printed %q; want exit 7 and %q", Status(ws), out, want)
	}
}

// TestSignalsKill: a program killed by a signal sent to the supervisor
// dies of it, the supervisor dies of it too (a shell sees 128+n), and the
// profile records the run, under --learn; the same under --explain.
func TestSignalsKill(t *testing.T) {
	bin := victim(t, "signals")
	for _, sig := range []unix.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGUSR1} {
		for _, mode := range []string{"learn", "explain"} {
			t.Run(sigName(sig)+" "+mode, func(t *testing.T) {
				if testutil.InSubprocess(t) {
					superviseInChild()
				}
				t.Parallel()
				prof := ""
				if mode == "learn" {
					prof = filepath.Join(t.TempDir(), "p.json")
				}
				c := supervisor(t, prof, bin, "die", sigName(sig))
				if err := unix.Kill(c.cmd.Process.Pid, sig); err != nil {
					t.Fatal(err)
				}
				ws, _ := c.wait()
				if !ws.Signaled() || ws.Signal() != sig {
					t.Errorf("%s to the supervisor of a program with its default action: supervisor %s, want signal %s", unix.SignalName(sig), Status(ws), unix.SignalName(sig))
				}
				if prof == "" {
					return
				}
				p, err := profile.ReadFile(prof)
				if err != nil {
					t.Fatalf("the profile: %v", err)
				}
				if want := "signal " + unix.SignalName(sig); len(p.Runs) != 1 || p.Runs[0].Status != want {
					t.Errorf("profile runs = %+v, want one that ended %q", p.Runs, want)
				}
			})
		}
	}
}

// TestSignalsStop: ^Z (SIGTSTP to the job's group) stops the program, and
// the supervisor after it, so that the shell sees its job stopped; fg
// (SIGCONT to the group) goes on with both. kill -TSTP and kill -CONT of
// the supervisor alone do the same to the program.
func TestSignalsStop(t *testing.T) {
	bin := victim(t, "signals")
	for _, to := range []string{"group", "pid"} {
		t.Run("to the "+to, func(t *testing.T) {
			if testutil.InSubprocess(t) {
				superviseInChild()
			}
			t.Parallel()
			c := supervisor(t, filepath.Join(t.TempDir(), "p.json"), bin, "stop")
			prog := c.program()
			target := c.cmd.Process.Pid
			if to == "group" {
				target = -target
			}
			if err := unix.Kill(target, unix.SIGTSTP); err != nil {
				t.Fatal(err)
			}
			// The shell's view: wait4(WUNTRACED) reports the job stopped.
			var ws unix.WaitStatus
			if _, err := unix.Wait4(c.cmd.Process.Pid, &ws, unix.WUNTRACED, nil); err != nil {
				t.Fatal(err)
			}
			if !ws.Stopped() || ws.StopSignal() != unix.SIGTSTP {
				t.Fatalf("after SIGTSTP to the %s, the supervisor is %s (%#x), want stopped by SIGTSTP", to, Status(ws), int(ws))
			}
			if st := procState(prog); st != "T" && st != "t" {
				t.Errorf("the supervisor stopped, the program is in state %s, want stopped", st)
			}
			time.Sleep(2 * time.Second) // longer than the victim's sleep: "done" would be printed now if it ran
			if st := procState(prog); st != "T" && st != "t" {
				t.Errorf("2 s later the program is in state %s, want stopped", st)
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

// procState is the state letter of /proc/PID/stat, or "gone".
func procState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "gone"
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2 : i+3]
	}
	return "?"
}

// TestAuditSignals: under --audit, which leaves PROGRAM untraced once it
// runs, the supervisor passes signals on as under Enforce
// (forwarder.passUntraced): a signal sent to the supervisor reaches
// PROGRAM once, but a terminal's kind (SIGINT, SIGQUIT, SIGWINCH), which
// reaches PROGRAM itself when sent to the group they share; and ^Z (SIGTSTP
// to the group) and fg stop and continue the program and then the
// supervisor.
func TestAuditSignals(t *testing.T) {
	bin := victim(t, "signals")
	for _, sig := range Forwarded {
		if sig == unix.SIGTSTP || sig == unix.SIGCONT {
			continue // below
		}
		to := "pid"
		if sig == unix.SIGINT || sig == unix.SIGQUIT || sig == unix.SIGWINCH {
			to = "group"
		}
		t.Run(sigName(sig)+" to the "+to, func(t *testing.T) {
			if testutil.InSubprocess(t) {
				superviseInChild()
			}
			t.Parallel()
			c := supervisor(t, "audit:"+filepath.Join(t.TempDir(), "p.json"), bin, "catch", sigName(sig))
			target := c.cmd.Process.Pid
			if to == "group" {
				target = -target
			}
			if err := unix.Kill(target, sig); err != nil {
				t.Fatal(err)
			}
			ws, out := c.wait()
			if want := "caught " + unix.SignalName(sig) + " 1\n"; !ws.Exited() || ws.ExitStatus() != 7 || out != want {
				t.Errorf("%s sent to the audit supervisor's %s: supervisor %s, program printed %q; want exit 7 and %q", unix.SignalName(sig), to, Status(ws), out, want)
			}
		})
	}
	t.Run("stop to the group", func(t *testing.T) {
		if testutil.InSubprocess(t) {
			superviseInChild()
		}
		c := supervisor(t, "audit:"+filepath.Join(t.TempDir(), "p.json"), bin, "stop")
		prog := c.program()
		if err := unix.Kill(-c.cmd.Process.Pid, unix.SIGTSTP); err != nil {
			t.Fatal(err)
		}
		var ws unix.WaitStatus
		if _, err := unix.Wait4(c.cmd.Process.Pid, &ws, unix.WUNTRACED, nil); err != nil {
			t.Fatal(err)
		}
		if !ws.Stopped() || ws.StopSignal() != unix.SIGTSTP {
			t.Fatalf("after SIGTSTP to the group, the audit supervisor is %s (%#x), want stopped by SIGTSTP", Status(ws), int(ws))
		}
		if st := procState(prog); st != "T" {
			t.Errorf("the supervisor stopped, the program is in state %s, want stopped (T)", st)
		}
		time.Sleep(2 * time.Second)
		if err := unix.Kill(-c.cmd.Process.Pid, unix.SIGCONT); err != nil {
			t.Fatal(err)
		}
		ws, out := c.wait()
		if !ws.Exited() || ws.ExitStatus() != 0 || out != "done\n" {
			t.Errorf("after SIGCONT to the group: supervisor %s, program printed %q; want exit 0, \"done\"", Status(ws), out)
		}
	})
}
