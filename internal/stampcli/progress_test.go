package stampcli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPty opens a pseudo-terminal pair as posix_openpt(3), unlockpt(3) and
// ptsname(3) do: /dev/ptmx, TIOCSPTLCK, TIOCGPTN.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("opening /dev/ptmx: %v", err)
	}
	master = os.NewFile(uintptr(fd), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close(); slave.Close() })
	return master, slave
}

// runOnTerminal runs the stamper with stderr on a terminal and returns the
// exit status, stdout and what the terminal received.
func runOnTerminal(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	master, slave := openPty(t)
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(master) // until the slave is closed: EIO
		got <- b
	}()
	var stdout bytes.Buffer
	code := Run(append([]string{"sysrestrict-stamp"}, args...), &stdout, slave)
	slave.Close()
	select {
	case b := <-got:
		// The terminal turns "\n" into "\r\n" (ONLCR).
		return code, stdout.String(), strings.ReplaceAll(string(b), "\r\n", "\n")
	case <-time.After(10 * time.Second):
		t.Fatal("reading the terminal: timed out")
		return 0, "", ""
	}
}

// The progress line: drawn (over a longer one: with blanks after it), or
// erased.
var (
	progressDraw  = regexp.MustCompile(`^\rsysrestrict-stamp: ([a-z]+) (\d+)/(\d+) files *`)
	progressErase = regexp.MustCompile(`^\r +\r`)
)

// splitProgress takes what a terminal received apart: the progress lines
// drawn (their phases), and the rest. It fails the test if anything else
// was written while a progress line was shown, or one is shown at the end.
func splitProgress(t *testing.T, term string) (phases []string, rest string) {
	t.Helper()
	shown := false
	var other strings.Builder
	for s := term; s != ""; {
		if m := progressDraw.FindStringSubmatch(s); m != nil {
			phases = append(phases, m[1])
			shown = true
			s = s[len(m[0]):]
			continue
		}
		if m := progressErase.FindString(s); m != "" && shown {
			shown = false
			s = s[len(m):]
			continue
		}
		if shown {
			t.Fatalf("written over the progress line: %q", s)
		}
		other.WriteByte(s[0])
		s = s[1:]
	}
	if shown {
		t.Errorf("the progress line is still shown at the end: %q", term)
	}
	return phases, other.String()
}

// TestProgress: on a terminal, a run that lasts shows how far it is on
// stderr, and erases it before anything else is written and at the end:
// what remains is exactly the output without a terminal. Never in a
// run shorter than progressDelay, in a pipe, with -q or with --json.
func TestProgress(t *testing.T) {
	// What stderr says without a terminal (the stamp warns: the warnings
	// must not mix with the progress line).
	pol, root := installTree(t)
	_, _, plain := stampRun(t, "--policy", pol, "--root", root)
	want := strings.ReplaceAll(plain, root, "ROOT")
	if !strings.Contains(want, "warning") {
		t.Fatalf("the stamp gives no warning to test the progress line against: %q", want)
	}

	saved := progressDelay
	defer func() { progressDelay = saved }()
	progressDelay = time.Hour // every run here is shorter
	pol, root = installTree(t)
	if code, _, term := runOnTerminal(t, "--policy", pol, "--root", root); code != 0 || strings.ReplaceAll(term, root, "ROOT") != want {
		t.Errorf("a short run on a terminal = %d, terminal %q, want %q: no progress", code, term, want)
	}

	progressDelay = 0
	for _, tc := range []struct {
		args  []string
		phase string
		want  string
	}{
		{nil, "stamping", want},
		{[]string{"--check"}, "checking", ""},
	} {
		pol, root := installTree(t)
		if tc.args != nil {
			stampRun(t, "-q", "--policy", pol, "--root", root)
		}
		code, stdout, term := runOnTerminal(t, append(tc.args, "--policy", pol, "--root", root)...)
		phases, rest := splitProgress(t, term)
		if code != 0 || !slices.Contains(phases, "reading") || !slices.Contains(phases, tc.phase) {
			t.Errorf("%v on a terminal = %d, progress shown %v; want reading and %s (terminal %q)", tc.args, code, phases, tc.phase, term)
		}
		if rest = strings.ReplaceAll(rest, root, "ROOT"); rest != tc.want {
			t.Errorf("%v: stderr on a terminal, the progress line taken out:\n%q\nwant\n%q", tc.args, rest, tc.want)
		}
		if strings.Contains(stdout, "\r") || strings.Count(stdout, "\n") != 5 {
			t.Errorf("%v: stdout %q, want the 5 lines only", tc.args, stdout)
		}
	}

	// Never with -q or --json, nor when stderr is not a terminal.
	for _, extra := range []string{"-q", "--json"} {
		code, _, term := runOnTerminal(t, "--check", extra, "--policy", pol, "--root", root)
		if code != 0 || term != "" {
			t.Errorf("--check %s on a terminal = %d, terminal %q; want nothing", extra, code, term)
		}
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	code := Run([]string{"sysrestrict-stamp", "--check", "--policy", pol, "--root", root}, io.Discard, w)
	w.Close()
	if b, _ := io.ReadAll(r); code != 0 || len(b) != 0 {
		t.Errorf("--check with stderr a pipe = %d, stderr %q; want nothing", code, b)
	}
}
