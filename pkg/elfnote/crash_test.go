//go:build linux

package elfnote

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sysrestrict/sysrestrict/internal/testutil"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// The crash and metadata tests re-execute the test binary (testutil) as a
// stamper: the child stamps the file named in its environment and exits,
// or is killed with SIGKILL, at a random instant or at a step of the
// write.
const (
	crashEnvFile  = "SYSRESTRICT_ELFNOTE_CRASH_FILE"
	crashEnvStep  = "SYSRESTRICT_ELFNOTE_CRASH_STEP"
	crashEnvNamed = "SYSRESTRICT_ELFNOTE_CRASH_NAMED"  // as without O_TMPFILE
	crashEnvOut   = "SYSRESTRICT_ELFNOTE_CRASH_OUTPUT" // Options.Output
	crashEnvLinks = "SYSRESTRICT_ELFNOTE_CRASH_LINKS"  // Options.Links, joined by filepath.ListSeparator
)

var crashSet = bitmap.NewSet(bitmap.X86_64, 59, 101, 200, 300)

// crashStamp is the child: it stamps the file, killing itself at the step
// named, if one is, and exits.
func crashStamp() {
	name := os.Getenv(crashEnvFile)
	opts := Options{noTmpfile: os.Getenv(crashEnvNamed) != "", Output: os.Getenv(crashEnvOut)}
	if l := os.Getenv(crashEnvLinks); l != "" {
		opts.Links = filepath.SplitList(l)
	}
	if s := os.Getenv(crashEnvStep); s != "" {
		// STEP, or STEP#K: the K-th time the write reaches STEP.
		k := 1
		if i := strings.IndexByte(s, '#'); i >= 0 {
			k, _ = strconv.Atoi(s[i+1:])
			s = s[:i]
		}
		opts.hook = func(step string) error {
			if step == s {
				if k--; k == 0 {
					syscall.Kill(os.Getpid(), syscall.SIGKILL)
				}
			}
			return nil
		}
	}
	if _, err := Stamp(name, crashSet, opts); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func crashChild(t *testing.T, file, step string) *exec.Cmd {
	cmd := testutil.Command(t)
	cmd.Env = append(cmd.Env, crashEnvFile+"="+file, crashEnvStep+"="+step)
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

// leftovers returns the names in dir other than target's.
func leftovers(t *testing.T, dir, target string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var extra []string
	for _, e := range ents {
		if e.Name() != filepath.Base(target) {
			extra = append(extra, e.Name())
		}
	}
	return extra
}

// checkClean checks that a killed stamper left nothing beside target but,
// if it was killed between naming its new file and the rename (inWindow),
// that file, which the next stamp removes.
func checkClean(t *testing.T, target string, inWindow bool) (left bool) {
	t.Helper()
	dir := filepath.Dir(target)
	extra := leftovers(t, dir, target)
	switch {
	case len(extra) == 0:
		return false
	case inWindow && len(extra) == 1 && filepath.Join(dir, extra[0]) == tempName(target):
		res, err := Stamp(target, crashSet, Options{})
		if err != nil || res.Reclaimed != tempName(target) {
			t.Fatalf("the next Stamp = %+v, %v; want it to remove %s", res, err, tempName(target))
		}
		if extra := leftovers(t, dir, target); len(extra) > 0 {
			t.Fatalf("after the next Stamp %v are still beside %s", extra, target)
		}
		return true
	default:
		t.Fatalf("a killed stamper left %v beside %s", extra, target)
		return false
	}
}

// TestCrashAtEachStep kills the stamper at each step of each way of
// writing, a setuid target included: the file is the original or fully
// stamped, and nothing else is in its directory, except after the new file
// was named and before the rename, where the next stamp removes it.
func TestCrashAtEachStep(t *testing.T) {
	if testutil.InSubprocess(t) {
		crashStamp()
	}
	rename := []string{"plan", "create", "copy", "patch", "metadata", "fsync", "link", "rename"}
	for _, tc := range []struct {
		fixture string
		mode    os.FileMode
		steps   []string
	}{
		{"x86_64-pie", 0o755 | os.ModeSetuid, rename},
		{"x86_64-note-valid-flags", 0o755, []string{"plan", "write", "fsync"}}, // in place
		// A setuid file is never written in place (killedByWrite).
		{"x86_64-note-valid-flags", 0o755 | os.ModeSetuid, rename},
	} {
		for _, s := range tc.steps {
			p := tempFixture(t, tc.fixture)
			if err := os.Chmod(p, tc.mode); err != nil {
				t.Fatal(err)
			}
			orig := mustRead(t, p)
			before, _ := ReadFile(p)
			err := crashChild(t, p, s).Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("%s: the stamper was not killed at step %s: %v", tc.fixture, s, err)
			}
			stamped := checkIntact(t, p, orig, before.Set)
			if fi, err := os.Stat(p); err != nil || fi.Mode() != tc.mode {
				t.Fatalf("%s: after a kill at %s the target's mode is %v (%v), want %v", tc.fixture, s, fi.Mode(), err, tc.mode)
			}
			left := checkClean(t, p, s == "rename")
			t.Logf("%s: killed at %s: %s, temporary file left: %v", tc.fixture, s, map[bool]string{false: "original", true: "stamped"}[stamped], left)
		}
	}
}

// TestCrashWithoutTmpfile: on a filesystem without O_TMPFILE the new file
// has its name while it is written, so a killed stamper leaves it; the
// next stamp of the file removes it.
func TestCrashWithoutTmpfile(t *testing.T) {
	if testutil.InSubprocess(t) {
		crashStamp()
	}
	for _, s := range []string{"copy", "metadata", "fsync", "rename"} {
		p := tempFixture(t, "x86_64-pie")
		orig := mustRead(t, p)
		cmd := crashChild(t, p, s)
		cmd.Env = append(cmd.Env, crashEnvNamed+"=1")
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("the stamper was not killed at step %s: %v", s, err)
		}
		checkIntact(t, p, orig, bitmap.NewSet(bitmap.X86_64))
		if !checkClean(t, p, true) {
			t.Errorf("killed at %s writing a named new file: nothing left; want %s, removed by the next stamp", s, tempName(p))
		}
	}
}

// TestCrashRandom kills stampers at random instants: every time, the file
// is the original or fully stamped, and nothing else is left beside it
// unless the kill fell between naming the new file and the rename.
func TestCrashRandom(t *testing.T) {
	if testutil.InSubprocess(t) {
		crashStamp()
	}
	n := 200
	if testing.Short() {
		n = 40
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, seed))
	dir := t.TempDir()
	p := filepath.Join(dir, "x86_64-pie")
	orig := mustRead(t, filepath.Join(fixtureDir, "x86_64-pie"))
	empty := bitmap.NewSet(bitmap.X86_64)
	// Kill within how long a whole stamper run takes here (test binary
	// start-up included), so the kills land before, during and after the
	// write.
	var span time.Duration
	for range 3 {
		if err := os.WriteFile(p, orig, 0o755); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if out, err := crashChild(t, p, "").CombinedOutput(); err != nil {
			t.Fatalf("stamper run: %v\n%s", err, out)
		}
		span = max(span, time.Since(start))
	}
	t.Logf("a whole stamper run takes up to %v; killing at random instants within %v", span, span*6/5)
	var counts [2]int
	windows := 0
	for i := range n {
		if err := os.WriteFile(p, orig, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o755|os.ModeSetuid); err != nil {
			t.Fatal(err)
		}
		cmd := crashChild(t, p, "")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(r.Int64N(int64(span * 6 / 5))))
		cmd.Process.Kill()
		cmd.Wait()
		if checkIntact(t, p, orig, empty) {
			counts[1]++
		} else {
			counts[0]++
		}
		if checkClean(t, p, true) {
			windows++
		}
		if t.Failed() {
			t.Fatalf("iteration %d", i)
		}
	}
	t.Logf("%d kills: %d original, %d stamped; %d fell between naming the new file and the rename (removed by the next stamp)", n, counts[0], counts[1], windows)
	if counts[0] == 0 || counts[1] == 0 {
		t.Logf("the random delays did not hit both outcomes")
	}
}
