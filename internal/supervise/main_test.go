//go:build linux

package supervise

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

func TestMain(m *testing.M) {
	// The supervisor starts this test binary as its child (Launcher is
	// /proc/self/exe); there Init installs the filter and runs PROGRAM.
	Init()
	code := m.Run()
	if victims.dir != "" {
		os.RemoveAll(victims.dir)
	}
	os.Exit(code)
}

// need fails or skips (with the reason) when a tool the test needs is
// missing: with CI=true a missing tool is a failure.
func need(t testing.TB, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is needed: %v", tool, err)
		}
		t.Skipf("%s not installed: %v", tool, err)
	}
	return p
}

var victims struct {
	sync.Mutex
	dir string
	bin map[string]string
}

// victim compiles testdata/victims/learn/NAME.c once per test binary and
// returns the executable's path.
func victim(t testing.TB, name string) string {
	t.Helper()
	cc := need(t, "gcc")
	victims.Lock()
	defer victims.Unlock()
	if p, ok := victims.bin[name]; ok {
		return p
	}
	if victims.dir == "" {
		d, err := os.MkdirTemp("", "supervise-victims")
		if err != nil {
			t.Fatal(err)
		}
		victims.dir = d
		victims.bin = map[string]string{}
	}
	src := filepath.Join("..", "..", "testdata", "victims", "learn", name+".c")
	out := filepath.Join(victims.dir, name)
	if b, err := exec.Command(cc, "-O2", "-Wall", "-pthread", "-o", out, src).CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", src, err, b)
	}
	victims.bin[name] = out
	return out
}
