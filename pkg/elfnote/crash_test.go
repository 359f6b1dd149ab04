//go:build linux

package elfnote

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// The crash test re-executes the test binary as a stamper that is killed
// with SIGKILL: at a random instant, or at each step of the write.
const (
	crashEnvFile = "SYSRESTRICT_ELFNOTE_CRASH_FILE"
	crashEnvStep = "SYSRESTRICT_ELFNOTE_CRASH_STEP"
)

var crashSet = bitmap.NewSet(bitmap.X86_64, 59, 101, 200, 300)

func init() {
	name := os.Getenv(crashEnvFile)
	if name == "" {
		return
	}
	if s := os.Getenv(crashEnvStep); s != "" {
		hook = func(step string) error {
			if step == s {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
			return nil
		}
	}
	if _, err := Stamp(name, crashSet, Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func crashChild(file, step string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnvFile+"="+file, crashEnvStep+"="+step)
	return cmd
}

// checkIntact checks that file is the original or a complete stamp of a
// superset of before (and subset of crashSet ∪ before).
func checkIntact(t *testing.T, file string, orig []byte, before bitmap.Set) bool {
	t.Helper()
	now := mustRead(t, file)
	if bytes.Equal(now, orig) {
		return false
	}
	f, err := Read(bytes.NewReader(now))
	if err != nil || !f.Stamped || !f.Set.Contains(before) || !crashSet.Union(before).Contains(f.Set) {
		t.Fatalf("after a kill the file is neither the original nor validly stamped: %v, %v", f, err)
	}
	return true
}

func TestCrashAtEachStep(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		steps   []string
	}{
		{"x86_64-pie", []string{"plan", "create", "copy", "patch", "metadata", "fsync", "rename"}},
		{"x86_64-note-valid-flags", []string{"plan", "write", "fsync"}},
	} {
		for _, s := range tc.steps {
			p := tempFixture(t, tc.fixture)
			orig := mustRead(t, p)
			before, _ := ReadFile(p)
			err := crashChild(p, s).Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("%s: the stamper was not killed at step %s: %v", tc.fixture, s, err)
			}
			stamped := checkIntact(t, p, orig, before.Set)
			t.Logf("%s: killed at %s: %s", tc.fixture, s, map[bool]string{false: "original", true: "stamped"}[stamped])
		}
	}
}

func TestCrashRandom(t *testing.T) {
	n := 200
	if testing.Short() {
		n = 40
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "x86_64-pie")
	orig := mustRead(t, filepath.Join(fixtureDir, "x86_64-pie"))
	empty := bitmap.NewSet(bitmap.X86_64)
	var counts [2]int
	for i := range n {
		if err := os.WriteFile(p, orig, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := crashChild(p, "")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(rand.IntN(4000)) * time.Microsecond)
		cmd.Process.Kill()
		cmd.Wait()
		if checkIntact(t, p, orig, empty) {
			counts[1]++
		} else {
			counts[0]++
		}
		if t.Failed() {
			t.Fatalf("iteration %d", i)
		}
	}
	// A SIGKILL may leave the stamper's temporary file; never a broken
	// original.
	ents, _ := os.ReadDir(dir)
	var temps []string
	for _, e := range ents {
		if strings.Contains(e.Name(), ".sysrestrict-") {
			temps = append(temps, e.Name())
		}
	}
	t.Logf("%d kills: %d original, %d stamped; %d temporary files left by killed stampers", n, counts[0], counts[1], len(temps))
	if counts[0] == 0 || counts[1] == 0 {
		t.Logf("the random delays did not hit both outcomes")
	}
}
