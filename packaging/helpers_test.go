package packaging

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// need returns the path of tool, or skips the test, or under CI=true fails
// it: CI installs every tool (.ci/run).
func need(t testing.TB, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (CI=true: a missing tool is a failure): %v", tool, err)
		}
		t.Skipf("%s is not installed: %v", tool, err)
	}
	return p
}

// needRoot skips a test that installs packages into the system, or fails
// it under CI=true, which runs as root.
func needRoot(t testing.TB, what string) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s needs root, and CI=true runs as root", what)
		}
		t.Skipf("%s needs root", what)
	}
}

// long skips a test that builds whole packages under go test -short.
func long(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds whole packages; not with -short")
	}
}

// An install is what make install put into a temporary DESTDIR.
type install struct {
	destdir  string
	bin      string // DESTDIR/usr/local/bin: the commands and dh_sysrestrict
	perl     string // DESTDIR/usr/share/perl5: PERL5LIB for the add-on
	rpmdir   string // DESTDIR/usr/lib/rpm: brp-sysrestrict
	macros   string // DESTDIR/usr/lib/rpm/macros.d/macros.sysrestrict
	stamp    string
	loader   string
	makeLog  string
	failures string // why make install failed, if it did
}

var (
	installOnce sync.Once
	installed   install
	installRoot string
)

// TestMain removes the one make install that the tests share.
func TestMain(m *testing.M) {
	code := m.Run()
	if installRoot != "" {
		os.RemoveAll(installRoot)
	}
	os.Exit(code)
}

// installTree runs make install DESTDIR=... once for all the tests, with
// GOPROXY=off: installing must not need the network.
func installTree(t testing.TB) *install {
	t.Helper()
	need(t, "make")
	need(t, "go")
	need(t, "pod2man")
	installOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sysrestrict-packaging")
		if err != nil {
			installed.failures = err.Error()
			return
		}
		installRoot = dir
		d := filepath.Join(dir, "destdir")
		installed = install{
			destdir: d,
			bin:     filepath.Join(d, "usr/local/bin"),
			perl:    filepath.Join(d, "usr/share/perl5"),
			rpmdir:  filepath.Join(d, "usr/lib/rpm"),
			macros:  filepath.Join(d, "usr/lib/rpm/macros.d/macros.sysrestrict"),
		}
		installed.stamp = filepath.Join(installed.bin, "sysrestrict-stamp")
		installed.loader = filepath.Join(installed.bin, "sysrestrict-exec")
		cmd := exec.Command("make", "-C", "..", "install", "DESTDIR="+d, "BIN="+filepath.Join(dir, "build"))
		cmd.Env = append(os.Environ(), "GOPROXY=off")
		out, err := cmd.CombinedOutput()
		installed.makeLog = string(out)
		if err != nil {
			installed.failures = "make install: " + err.Error() + "\n" + string(out)
		}
	})
	if installed.failures != "" {
		t.Fatal(installed.failures)
	}
	return &installed
}

// result is how a command ended.
type result struct {
	stdout, stderr string
	status         syscall.WaitStatus
}

func (r result) ok() bool { return r.status.Exited() && r.status.ExitStatus() == 0 }

// String says how it ended, for messages.
func (r result) String() string {
	switch {
	case r.status.Signaled():
		return "killed by " + r.status.Signal().String()
	case r.status.Exited():
		return "exit " + strconv.Itoa(r.status.ExitStatus())
	}
	return "?"
}

// run runs argv in dir with env added to the test's environment ("-KEY"
// removes KEY from it); a command that cannot be started fails the test.
func run(t testing.TB, dir string, env []string, argv ...string) result {
	t.Helper()
	return run2(t, dir, env, false, argv...)
}

// runLog is run for a build: stdout and stderr go to one log, in the
// order written (the result's stdout).
func runLog(t testing.TB, dir string, env []string, argv ...string) result {
	t.Helper()
	return run2(t, dir, env, true, argv...)
}

func run2(t testing.TB, dir string, env []string, oneLog bool, argv ...string) result {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = environ(env)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if oneLog {
		cmd.Stderr = &stdout
	}
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running %q: %v", argv, err)
	}
	return result{stdout.String(), stderr.String(), cmd.ProcessState.Sys().(syscall.WaitStatus)}
}

// environ returns the test's environment with env applied: "KEY=VALUE"
// sets, "-KEY" removes.
func environ(env []string) []string {
	drop := map[string]bool{}
	var set []string
	for _, e := range env {
		if k, ok := strings.CutPrefix(e, "-"); ok {
			drop[k] = true
		} else {
			set = append(set, e)
		}
	}
	var out []string
	for _, e := range os.Environ() {
		if k, _, _ := strings.Cut(e, "="); !drop[k] {
			out = append(out, e)
		}
	}
	return append(out, set...)
}

// mustRun runs argv and fails the test unless it exits 0.
func mustRun(t testing.TB, dir string, env []string, argv ...string) result {
	t.Helper()
	r := run(t, dir, env, argv...)
	if !r.ok() {
		t.Fatalf("%q in %s: %v\nstdout:\n%s\nstderr:\n%s", argv, dir, r, r.stdout, r.stderr)
	}
	return r
}

// shown is one file of sysrestrict-stamp --show --json.
type shown struct {
	File       string   `json:"file"`
	Stamped    bool     `json:"stamped"`
	Restricted []string `json:"restricted"`
	DenyBeyond bool     `json:"deny_beyond"`
}

// show returns what the stamper says of each file, by file name.
func show(t testing.TB, stamp string, files ...string) map[string]shown {
	t.Helper()
	r := mustRun(t, "", nil, append([]string{stamp, "--show", "--json", "--"}, files...)...)
	m := map[string]shown{}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	for dec.More() {
		var s shown
		if err := dec.Decode(&s); err != nil {
			t.Fatalf("decoding --show --json: %v\n%s", err, r.stdout)
		}
		m[s.File] = s
	}
	return m
}

// restricts reports whether s restricts every one of names.
func restricts(s shown, names ...string) bool {
	set := map[string]bool{}
	for _, n := range s.Restricted {
		set[n] = true
	}
	for _, n := range names {
		if !set[n] {
			return false
		}
	}
	return true
}

// copyTree copies the directory src to dst (regular files, directories,
// modes).
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, fi.Mode().Perm()|0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, fi.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// copyFile copies src to dst with mode perm.
func copyFile(t testing.TB, src, dst string, perm os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, perm); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, name, text string, perm os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(text), perm); err != nil {
		t.Fatal(err)
	}
}
