//go:build linux

package embedtest

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
)

// fixtures are testdata/victims/embed built once per test binary.
type fixtures struct {
	dir                      string
	before, beforeStatic     string // before.c, dynamic (-z now, libhooks.so) and static
	lib, preload, audit      string // the shared objects
	embedded, embeddedStatic string // before and before-static, stamped --embed --deny sysinfo
	escape                   string // testdata/victims/escape.c
}

// build compiles the fixtures into a directory anyone can read (the setuid
// test runs them as nobody) and embeds the two programs.
func build(t *testing.T) *fixtures {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skipf("the embedded-program tests stamp x86_64 binaries; this is %s", runtime.GOARCH)
	}
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Fatalf("cc is needed to build testdata/victims/embed: %v", err)
	}
	dir, err := os.MkdirTemp("", "embedtest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := filepath.Abs("../../testdata/victims/embed")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixtures{
		dir:    dir,
		before: filepath.Join(dir, "before"), beforeStatic: filepath.Join(dir, "before-static"),
		lib: filepath.Join(dir, "libhooks.so"), preload: filepath.Join(dir, "preload.so"), audit: filepath.Join(dir, "audit.so"),
		embedded: filepath.Join(dir, "before.embedded"), embeddedStatic: filepath.Join(dir, "before-static.embedded"),
		escape: filepath.Join(dir, "escape"),
	}
	for _, args := range [][]string{
		{"-shared", "-fPIC", "-o", f.lib, src + "/lib.c"},
		{"-shared", "-fPIC", "-o", f.preload, src + "/preload.c"},
		{"-shared", "-fPIC", "-o", f.audit, src + "/audit.c"},
		{"-DDYNAMIC", "-Wl,-z,now", "-o", f.before, src + "/before.c", "-L" + dir, "-lhooks", "-Wl,-rpath," + dir},
		{"-static", "-o", f.beforeStatic, src + "/before.c"},
		{"-pthread", "-o", f.escape, src + "/../escape.c"},
	} {
		if out, err := exec.Command(cc, append([]string{"-O2", "-Wall"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("cc %v: %v\n%s", args, err, out)
		}
	}
	set, err := bitmap.Parse(bitmap.X86_64, "sysinfo")
	if err != nil {
		t.Fatal(err)
	}
	for from, to := range map[string]string{f.before: f.embedded, f.beforeStatic: f.embeddedStatic} {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, b, 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := elfnote.Stamp(to, set, elfnote.Options{Replace: true, Embed: true}); err != nil {
			t.Fatalf("stamping %s --embed: %v", to, err)
		}
	}
	return f
}

// run runs argv with env added to the test's environment, as cred if not
// nil, and returns its stdout and how it ended: "exit N" or "signal S".
func run(t *testing.T, cred *syscall.Credential, env []string, argv ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	how := "exit 0"
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		ws := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			how = "signal " + ws.Signal().String()
		} else {
			how = "exit " + strings.TrimPrefix(ee.Error(), "exit status ")
		}
	default:
		t.Fatalf("running %v: %v", argv, err)
	}
	if errb.Len() > 0 {
		t.Logf("%v: stderr %q", argv, errb.String())
	}
	return out.String(), how
}

// lines is what the hooks that ran printed (hooks.h), in order.
func lines(out string) []string {
	out = strings.TrimSpace(out)
	if out == "" {
		return nil
	}
	var l []string
	for _, s := range strings.Split(out, "\n") {
		l = append(l, strings.TrimSuffix(s, " ran"))
	}
	return l
}

// TestWhatRunsBefore measures what of a dynamic program runs before its
// embedded stub installs the filter, as docs/embed.md reports it: ld.so
// runs the LD_AUDIT module, every IFUNC resolver (the program's own
// too: its IRELATIVE relocations), the program's DT_PREINIT_ARRAY and
// every library constructor (LD_PRELOAD's too) before it jumps to
// AT_ENTRY, the stub: each of them makes the denied syscall and survives.
// The program's own constructor and main come after the stub, and the
// first to make it dies of SIGSYS. In a static program nothing comes
// before the stub: its first hook (the IFUNC resolver, applied by
// __libc_start_main) dies. Each is paired with the program not embedded,
// which runs every hook.
func TestWhatRunsBefore(t *testing.T) {
	f := build(t)
	ldEnv := []string{"LD_PRELOAD=" + f.preload, "LD_AUDIT=" + f.audit}
	beforeEntry := []string{"LD_AUDIT la_version", "library IFUNC resolver", "program IFUNC resolver", "program preinit_array", "library constructor", "LD_PRELOAD constructor"}
	for _, tt := range []struct {
		name      string
		env       []string
		prog      string
		how       string
		wantLines []string
	}{
		{"dynamic, not embedded", ldEnv, f.before, "exit 0", append(append([]string{}, beforeEntry...), "program constructor", "main")},
		{"dynamic, embedded", ldEnv, f.embedded, "signal bad system call", beforeEntry},
		{"dynamic, embedded, main's syscall", []string{"BEFORE_MAIN_ONLY=1"}, f.embedded, "signal bad system call",
			[]string{"library IFUNC resolver", "program IFUNC resolver", "program preinit_array", "library constructor", "program constructor (no syscall)"}},
		{"static, not embedded", nil, f.beforeStatic, "exit 0", []string{"program IFUNC resolver", "program preinit_array", "program constructor", "main"}},
		{"static, embedded", nil, f.embeddedStatic, "signal bad system call", nil},
	} {
		out, how := run(t, nil, tt.env, tt.prog)
		if got := lines(out); how != tt.how || strings.Join(got, "|") != strings.Join(tt.wantLines, "|") {
			t.Errorf("%s: %s, hooks that ran %q; want %s, %q", tt.name, how, got, tt.how, tt.wantLines)
		}
	}
}

// TestSetuidIgnoresPreload: for an embedded setuid-root program run by
// nobody (AT_SECURE), ld.so ignores LD_PRELOAD and LD_AUDIT paths with a
// slash (ld.so(8), "secure-execution mode"): neither runs before the stub
// there.
func TestSetuidIgnoresPreload(t *testing.T) {
	f := build(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root: to make a setuid-root file and to run as nobody")
	}
	if err := os.Chmod(f.embedded, 0o755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}
	out, how := run(t, nobody, []string{"LD_PRELOAD=" + f.preload, "LD_AUDIT=" + f.audit}, f.embedded)
	want := []string{"library IFUNC resolver", "program IFUNC resolver", "program preinit_array", "library constructor"}
	if got := lines(out); how != "signal bad system call" || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("setuid-root embedded, as nobody, LD_PRELOAD and LD_AUDIT set: %s, hooks %q; want SIGSYS, %q", how, got, want)
	}
}
