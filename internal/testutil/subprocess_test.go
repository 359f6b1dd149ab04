package testutil

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestCommand runs children that pass, fail, skip and exit, under names
// that need quoting in -test.run or that another test's pattern also
// selects, and checks what the parent reads of them.
func TestCommand(t *testing.T) {
	tests := []struct {
		name    string
		do      func(t *testing.T) // in the child
		verdict string             // outcome's
		logged  string
		status  int // the child's exit status
	}{
		{"passes", func(t *testing.T) {}, "PASS", "", 0},
		{"fails", func(t *testing.T) { t.Error("failure in the child") }, "FAIL", "failure in the child", 1},
		{"skips", func(t *testing.T) { t.Skip("reason in the child\nsecond line") }, "SKIP", "reason in the child\n    second line", 0},
		{"exits", func(t *testing.T) { os.Exit(3) }, "", "", 3},
		{"regexp .*+?()[]{}|^$ chars", func(t *testing.T) {}, "PASS", "", 0},
		{"a/b: a name with a slash", func(t *testing.T) { t.Log("a/b ran") }, "PASS", "a/b ran", 0},
		{"a", func(t *testing.T) { t.Error("a ran") }, "FAIL", "a ran", 1},
		{"dup", func(t *testing.T) {}, "PASS", "", 0},
		{"dup", func(t *testing.T) { t.Skip("the second dup") }, "SKIP", "the second dup", 0}, // dup#01
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if InSubprocess(t) {
				tt.do(t)
				return
			}
			out, err := Command(t).CombinedOutput()
			var ee *exec.ExitError
			status := 0
			if errors.As(err, &ee) {
				status = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			verdict, logged := outcome(string(out), t.Name())
			if verdict != tt.verdict || !strings.Contains(logged, tt.logged) || status != tt.status {
				t.Errorf("child %s: verdict %q, logged %q, exit %d; want %q, %q, %d; output:\n%s", t.Name(), verdict, logged, status, tt.verdict, tt.logged, tt.status, out)
			}
			// The child runs t and skips the tests its pattern also
			// selects ("a" for "a/b"); no other test runs its body.
			for _, l := range strings.Split(string(out), "\n") {
				l = strings.TrimLeft(l, " ")
				if (strings.HasPrefix(l, "--- PASS: TestCommand/") || strings.HasPrefix(l, "--- FAIL: TestCommand/")) &&
					!strings.HasPrefix(l, "--- PASS: "+t.Name()+" (") && !strings.HasPrefix(l, "--- FAIL: "+t.Name()+" (") {
					t.Errorf("child %s ran another test: %s; output:\n%s", t.Name(), l, out)
				}
			}
		})
	}
}

// TestRunInSubprocess: a child's skip reaches the parent's test, and a
// pass passes.
func TestRunInSubprocess(t *testing.T) {
	var skipped, passed bool
	t.Run("skips", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		RunInSubprocess(t, func() { t.Skip("skipped in the child") })
	})
	t.Run("passes", func(t *testing.T) {
		defer func() { passed = !t.Failed() && !t.Skipped() }()
		RunInSubprocess(t, func() {
			if !InSubprocess(t) {
				t.Error("the child does not know it is one")
			}
		})
	})
	if os.Getenv(envChild) != "" {
		return // the child of one of the two
	}
	if !skipped {
		t.Errorf("a child's skip did not skip the parent's test")
	}
	if !passed {
		t.Errorf("a child's pass did not pass the parent's test")
	}
}

func TestRunPattern(t *testing.T) {
	if got, want := RunPattern("TestX/a.b/c#01"), `^TestX$/^a\.b$/^c#01$`; got != want {
		t.Errorf("RunPattern = %q, want %q", got, want)
	}
}

// TestShell: a child started by sh from Shell's command line is t's
// child, even under a name that needs quoting.
func TestShell(t *testing.T) {
	for _, name := range []string{"plain", "it's quoted $HOME `x`"} {
		t.Run(name, func(t *testing.T) {
			if InSubprocess(t) {
				os.Exit(7)
			}
			self, err := os.Executable()
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("sh", "-c", "env "+Shell(t, `"$BIN"`))
			cmd.Env = append(os.Environ(), "BIN="+self)
			err = cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 7 {
				t.Errorf("sh -c %q: %v, want the child's exit 7", Shell(t, `"$BIN"`), err)
			}
		})
	}
}
