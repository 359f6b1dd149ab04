package packaging

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// buildRoot returns an RPM build root holding the named ELF files (copies
// of /bin/true) and a SOURCES directory beside it for the policy.
func buildRoot(t *testing.T, files ...string) (root, sources string) {
	t.Helper()
	dir := t.TempDir()
	root, sources = filepath.Join(dir, "BUILDROOT"), filepath.Join(dir, "SOURCES")
	for _, f := range files {
		copyFile(t, "/bin/true", filepath.Join(root, f), 0o755)
	}
	if err := os.MkdirAll(sources, 0o755); err != nil {
		t.Fatal(err)
	}
	return root, sources
}

// brp runs the installed brp-sysrestrict as rpmbuild would.
func brp(t *testing.T, root string, args ...string) result {
	t.Helper()
	in := installTree(t)
	return run(t, "", []string{"RPM_BUILD_ROOT=" + root, "RPM_BUILD_NCPUS=2", "-SOURCE_DATE_EPOCH"},
		append([]string{filepath.Join(in.rpmdir, "brp-sysrestrict")}, args...)...)
}

// TestBrpSysrestrict stamps a build root as its policy says, leaves
// find-debuginfo's .debug files alone even when a rule matches them, and
// leaves nothing behind in SOURCES; the --check of %check fails once a
// later strip has undone a stamp.
func TestBrpSysrestrict(t *testing.T) {
	in := installTree(t)
	need(t, "strip")
	root, sources := buildRoot(t, "usr/bin/hello", "usr/bin/other", "usr/lib/debug/usr/bin/hello-1.0-1.x86_64.debug")
	writeProfile(t, filepath.Join(sources, "hello.profile.json"), filepath.Join(root, "usr/bin/hello"), "read")
	// No newline at the end: the skip rule still gets a line of its own.
	policy := filepath.Join(sources, "hello.sysrestrict")
	writeFile(t, policy, "**/hello*   --deny @mount\nusr/bin/hello --allow-profile hello.profile.json", 0o644)
	debug := filepath.Join(root, "usr/lib/debug/usr/bin/hello-1.0-1.x86_64.debug")
	debugBefore := readFile(t, debug)
	otherBefore := readFile(t, filepath.Join(root, "usr/bin/other"))

	if r := brp(t, root, in.stamp, policy); !r.ok() {
		t.Fatalf("brp-sysrestrict: %v\n%s%s", r, r.stdout, r.stderr)
	}
	hello := filepath.Join(root, "usr/bin/hello")
	if s := show(t, in.stamp, hello)[hello]; !s.Stamped || !s.DenyBeyond || !restricts(s, "mount", "execve") {
		t.Errorf("usr/bin/hello: %+v; want the profile's allowlist and @mount", s)
	}
	if !bytes.Equal(readFile(t, debug), debugBefore) {
		t.Error("brp-sysrestrict changed a .debug file under usr/lib/debug")
	}
	if !bytes.Equal(readFile(t, filepath.Join(root, "usr/bin/other")), otherBefore) {
		t.Error("brp-sysrestrict changed usr/bin/other, which no rule matches")
	}
	if left, _ := filepath.Glob(filepath.Join(sources, ".brp-sysrestrict*")); len(left) > 0 {
		t.Errorf("brp-sysrestrict left %v in SOURCES", left)
	}
	if r := brp(t, root, "--check", in.stamp, policy); !r.ok() {
		t.Errorf("brp-sysrestrict --check after stamping: %v\n%s", r, r.stderr)
	}

	// A strip after stamping (what brp-strip would do if it ran last)
	// undoes the stamp; the %check gate says so.
	mustRun(t, "", nil, "strip", hello)
	if r := brp(t, root, "--check", in.stamp, policy); r.ok() || !strings.Contains(r.stderr, "usr/bin/hello") {
		t.Errorf("brp-sysrestrict --check after strip: %v, stderr %q; want a failure naming usr/bin/hello", r, r.stderr)
	}
}

// TestBrpSysrestrictRefuses checks the build roots and arguments that
// brp-sysrestrict refuses rather than guess.
func TestBrpSysrestrictRefuses(t *testing.T) {
	in := installTree(t)
	root, sources := buildRoot(t, "usr/bin/hello")
	policy := filepath.Join(sources, "hello.sysrestrict")
	writeFile(t, policy, "usr/bin/* --deny @mount\n", 0o644)
	script := filepath.Join(in.rpmdir, "brp-sysrestrict")
	for _, c := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"no RPM_BUILD_ROOT", []string{"RPM_BUILD_ROOT="}, []string{in.stamp, policy}, "RPM_BUILD_ROOT is not set"},
		{"RPM_BUILD_ROOT is /", []string{"RPM_BUILD_ROOT=/"}, []string{in.stamp, policy}, "refusing"},
		{"no policy file", []string{"RPM_BUILD_ROOT=" + root}, []string{in.stamp, policy + ".missing"}, "no such policy file"},
		{"no stamper", []string{"RPM_BUILD_ROOT=" + root}, []string{"/nonexistent/sysrestrict-stamp", policy}, "not found"},
		{"usage", []string{"RPM_BUILD_ROOT=" + root}, []string{policy}, "usage"},
		{"rule matches nothing", []string{"RPM_BUILD_ROOT=" + root}, []string{in.stamp, writePolicy(t, sources, "usr/sbin/* --deny @mount\n")}, ":1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, "", c.env, append([]string{script}, c.args...)...)
			if r.ok() || !strings.Contains(r.stderr, c.want) {
				t.Errorf("brp-sysrestrict %v: %v, stderr %q; want a failure saying %q", c.args, r, r.stderr, c.want)
			}
		})
	}
}

func writePolicy(t *testing.T, dir, text string) string {
	t.Helper()
	name := filepath.Join(dir, "other.sysrestrict")
	writeFile(t, name, text, 0o644)
	return name
}
