// Package testutil holds helpers for this module's tests.
//
// # Tests in a subprocess
//
// A test that does something irreversible to its process (installs a
// seccomp filter, exits with a given status, is killed on purpose) runs in
// a child: the test binary re-executed to run that one test (gVisor's
// TestRealDeal, go-landlock's RunInSubprocess). RunInSubprocess does the
// whole round trip and passes the child's failures and skips back;
// InSubprocess and Command are its two halves, for a test that wants the
// child's exit status or to kill it; Shell is Command for a shell script.
package testutil

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// envChild names, in a child's environment, the one test it runs as the
// child of its parent's.
const envChild = "SYSRESTRICT_TEST_SUBPROCESS"

// InSubprocess reports whether t runs in a child that Command or
// RunInSubprocess started for t itself. A test that the child runs
// besides (its parent tests, its subtests) is not that child.
func InSubprocess(t testing.TB) bool {
	return os.Getenv(envChild) == t.Name()
}

// Command returns the command that re-executes the test binary to run t,
// and t alone, with InSubprocess(t) true there. The child runs the tests
// above t too (t.Run calls them), but only t's own branch: each -test.run
// element is t's name at that level, quoted. Set what the child needs
// through the returned command's Env, which holds the parent's
// environment. In a child started for another test, Command skips t: only
// the child's own test runs there.
func Command(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	switch child := os.Getenv(envChild); {
	case child == t.Name():
		t.Fatalf("testutil.Command(%s) in its own subprocess: nested subprocesses are not supported", t.Name())
	case child != "":
		// A test the child runs besides its own: a subtest named "a/b"
		// is also selected by the pattern of a test "a".
		t.Skipf("runs in a subprocess of its own; this one is %s's", child)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatalf("the test binary: %v", err)
	}
	cmdArgs := []string{"-test.run=" + RunPattern(t.Name()), "-test.count=1", "-test.v"}
	if testing.Short() {
		cmdArgs = append(cmdArgs, "-test.short")
	}
	cmd := exec.Command(self, append(cmdArgs, args...)...)
	cmd.Env = append(os.Environ(), envChild+"="+t.Name())
	return cmd
}

// Shell returns Command(t) as a shell command line, for a child that a
// script starts (under fakeroot, as another user): the environment
// variable that makes it t's child, bin, and the arguments, each quoted
// for sh. bin is a shell word, put in as it is ("$STAMPER"); the test
// binary must have been copied there. Unlike Command's, the child does
// not run with -test.v: it prints nothing of its own when it passes.
func Shell(t testing.TB, bin string) string {
	t.Helper()
	cmd := Command(t) // the same checks
	args := []string{envChild + "=" + t.Name(), bin}
	for _, a := range cmd.Args[1:] {
		if a != "-test.v" {
			args = append(args, a)
		}
	}
	for i, a := range args {
		if i != 1 {
			args[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(args, " ")
}

// RunPattern returns the -test.run pattern that selects the test called
// name (a t.Name(): levels split by "/"), and no other test at any level.
func RunPattern(name string) string {
	elems := strings.Split(name, "/")
	for i, e := range elems {
		elems[i] = "^" + regexp.QuoteMeta(e) + "$"
	}
	return strings.Join(elems, "/")
}

// RunInSubprocess runs child in a child process, as the body of t, and
// reports its outcome as t's: in the child it calls child; in the parent
// it runs Command(t) and passes the child's failure (with its output) or
// skip (with its reason) on to t. It fails t if the child did not run t
// at all. Call it as the whole body of t: in the parent, child never runs.
func RunInSubprocess(t *testing.T, child func()) {
	t.Helper()
	if InSubprocess(t) {
		child()
		return
	}
	cmd := Command(t)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("starting the subprocess for %s: %v", t.Name(), err)
	}
	verdict, logged := outcome(out.String(), t.Name())
	switch {
	case verdict == "FAIL" || err != nil:
		t.Errorf("in a subprocess (%v):\n%s", cmd.ProcessState, out.String())
	case verdict == "SKIP":
		t.Skipf("in a subprocess:\n%s", logged)
	case verdict == "":
		t.Errorf("the subprocess did not run %s (-test.run=%s):\n%s", t.Name(), RunPattern(t.Name()), out.String())
	}
}

// outcome finds in a -test.v output the result line of the test called
// name ("--- PASS: name (0.00s)", or FAIL, SKIP) and returns its verdict
// ("" if there is none) and what the test logged. -test.v streams a test's
// log lines, indented, under a header naming it ("=== RUN   name", or
// NAME, CONT, PAUSE when tests interleave), before its result line.
func outcome(out, name string) (verdict, logged string) {
	var log []string
	in := false
	for _, l := range strings.Split(out, "\n") {
		trimmed := strings.TrimLeft(l, " ")
		switch {
		case strings.HasPrefix(l, "=== ") && len(l) > len("=== RUN   "):
			in = l[len("=== RUN   "):] == name
			continue
		case strings.HasPrefix(trimmed, "--- "):
			for _, v := range []string{"PASS", "FAIL", "SKIP"} {
				if strings.HasPrefix(trimmed, "--- "+v+": "+name+" (") {
					verdict = v
				}
			}
			in = false
			continue
		}
		if in {
			log = append(log, strings.TrimPrefix(l, "    "))
		}
	}
	return verdict, strings.Join(log, "\n")
}
