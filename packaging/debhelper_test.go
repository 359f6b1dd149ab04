package packaging

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The tests of dh_sysrestrict on its own: a source tree with a
// debian/control, staging directories holding copies of /bin/true, and
// policy files, as dh would leave them after dh_strip. The whole sequence
// runs in TestDebianPackage.

const fakeControl = `Source: fake
Section: misc
Priority: optional
Maintainer: nobody <nobody@example.org>
Build-Depends: debhelper-compat (= 13), dh-sequence-sysrestrict
Rules-Requires-Root: no

Package: pkg-a
Architecture: any
Description: a
 a

Package: pkg-b
Architecture: any
Description: b
 b

Package: pkg-c
Architecture: all
Description: c
 c
`

// fakeSource returns a source tree whose packages' staging directories
// hold the named ELF files (copies of /bin/true, mode 0755).
func fakeSource(t *testing.T, elves map[string][]string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "debian/control"), fakeControl, 0o644)
	writeFile(t, filepath.Join(dir, "debian/changelog"),
		"fake (1.0) unstable; urgency=medium\n\n  * Test.\n\n -- nobody <nobody@example.org>  Tue, 01 Dec 2026 12:00:00 +0000\n", 0o644)
	for pkg, files := range elves {
		for _, f := range files {
			copyFile(t, "/bin/true", filepath.Join(dir, "debian", pkg, f), 0o755)
		}
	}
	return dir
}

// dhSysrestrict runs the installed dh_sysrestrict in the source tree dir.
func dhSysrestrict(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	in := installTree(t)
	need(t, "dh")
	env = append([]string{"PATH=" + in.bin + ":" + os.Getenv("PATH"), "PERL5LIB=" + in.perl,
		"DH_VERBOSE=", "DH_QUIET=", "DH_NO_ACT=", "DEB_BUILD_OPTIONS=", "DH_ALWAYS_EXCLUDE=", "-SOURCE_DATE_EPOCH"}, env...)
	return run(t, dir, env, append([]string{filepath.Join(in.bin, "dh_sysrestrict")}, args...)...)
}

func inode(t *testing.T, name string) uint64 {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// TestDhSysrestrict stamps a staging directory as its policy file says:
// rules in file order, a profile named relative to the policy file, hard
// links stamped once, symlinks not followed; files under usr/lib/debug
// and those -X excludes, whatever their names, are left alone even when
// a rule matches them.
func TestDhSysrestrict(t *testing.T) {
	in := installTree(t)
	dir := fakeSource(t, map[string][]string{
		"pkg-a": {"usr/bin/one", "usr/bin/two", "usr/bin/x*", "usr/bin/xy", "usr/bin/it's here", "usr/bin/[ab]",
			"usr/lib/debug/.build-id/ab/cdef.debug"},
		"pkg-b": {"usr/bin/b"},
	})
	a := filepath.Join(dir, "debian/pkg-a")
	if err := os.Link(filepath.Join(a, "usr/bin/two"), filepath.Join(a, "usr/bin/two-again")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("one", filepath.Join(a, "usr/bin/link")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(a, "usr/share/doc/pkg-a/README"), "not ELF\n", 0o644)
	writeProfile(t, filepath.Join(dir, "debian/one.profile.json"), filepath.Join(a, "usr/bin/one"), "read")
	writeFile(t, filepath.Join(dir, "debian/pkg-a.sysrestrict"), `# the policy of pkg-a
usr/bin/*           --deny @mount
usr/bin/one         --allow-profile one.profile.json
usr/bin/two-again   --deny ptrace,process_vm_readv,process_vm_writev
**/*.debug          --deny @mount
`, 0o644)
	debugBefore := readFile(t, filepath.Join(a, "usr/lib/debug/.build-id/ab/cdef.debug"))
	bBefore := readFile(t, filepath.Join(dir, "debian/pkg-b/usr/bin/b"))

	// -X takes a substring of the path: "x*" is the literal name, which
	// must not let the glob x* skip xy too; "[ab]" likewise.
	r := dhSysrestrict(t, dir, nil, "-Xx*", "-Xit's", "-X[ab]")
	if !r.ok() {
		t.Fatalf("dh_sysrestrict: %v\n%s%s", r, r.stdout, r.stderr)
	}
	got := show(t, in.stamp, filepath.Join(a, "usr/bin/one"), filepath.Join(a, "usr/bin/two"), filepath.Join(a, "usr/bin/two-again"),
		filepath.Join(a, "usr/bin/xy"), filepath.Join(a, "usr/bin/x*"), filepath.Join(a, "usr/bin/it's here"), filepath.Join(a, "usr/bin/[ab]"))
	for _, c := range []struct {
		file    string
		stamped bool
		names   []string
		beyond  bool
	}{
		{"usr/bin/one", true, []string{"mount", "execve", "ptrace"}, true}, // the profile allows read (and @default) only
		{"usr/bin/two", true, []string{"mount", "ptrace", "process_vm_readv"}, false},
		{"usr/bin/two-again", true, []string{"mount", "ptrace"}, false},
		{"usr/bin/xy", true, []string{"mount"}, false},
		{"usr/bin/x*", false, nil, false},
		{"usr/bin/it's here", false, nil, false},
		{"usr/bin/[ab]", false, nil, false},
	} {
		s := got[filepath.Join(a, c.file)]
		if s.Stamped != c.stamped || !restricts(s, c.names...) || s.DenyBeyond != c.beyond {
			t.Errorf("%s: stamped %v, restricts %v, deny_beyond %v; want stamped %v, restricting at least %v, deny_beyond %v",
				c.file, s.Stamped, s.Restricted, s.DenyBeyond, c.stamped, c.names, c.beyond)
		}
	}
	if inode(t, filepath.Join(a, "usr/bin/two")) != inode(t, filepath.Join(a, "usr/bin/two-again")) {
		t.Error("usr/bin/two and its hard link two-again are no longer one file")
	}
	if !bytes.Equal(readFile(t, filepath.Join(a, "usr/lib/debug/.build-id/ab/cdef.debug")), debugBefore) {
		t.Error("dh_sysrestrict changed a file under usr/lib/debug")
	}
	if !bytes.Equal(readFile(t, filepath.Join(dir, "debian/pkg-b/usr/bin/b")), bBefore) {
		t.Error("dh_sysrestrict changed pkg-b, which has no policy file")
	}
	if fi, err := os.Lstat(filepath.Join(a, "usr/bin/link")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("usr/bin/link is no longer a symlink: %v", err)
	}
	gen := string(readFile(t, filepath.Join(dir, "debian/pkg-a.sysrestrict.debhelper")))
	for _, rule := range []string{"usr/lib/debug/** skip", `'usr/bin/x[*]' skip`, `'usr/bin/it'\''s here' skip`, `'usr/bin/[[]ab]' skip`} {
		if !strings.Contains(gen, "\n"+rule+"\n") {
			t.Errorf("debian/pkg-a.sysrestrict.debhelper has no line %q:\n%s", rule, gen)
		}
	}
	if !strings.HasPrefix(gen, string(readFile(t, filepath.Join(dir, "debian/pkg-a.sysrestrict")))) {
		t.Errorf("debian/pkg-a.sysrestrict.debhelper does not start with the rules of debian/pkg-a.sysrestrict, line for line:\n%s", gen)
	}

	// Run again: a stamp never loosens, and the check still passes.
	if r := dhSysrestrict(t, dir, nil, "-Xx*", "-Xit's", "-X[ab]"); !r.ok() {
		t.Fatalf("dh_sysrestrict, second run: %v\n%s%s", r, r.stdout, r.stderr)
	}
}

// TestDhSysrestrictPackages checks -p, -N, -a and -i: only the packages
// acted on are stamped.
func TestDhSysrestrictPackages(t *testing.T) {
	in := installTree(t)
	for _, c := range []struct {
		args    []string
		stamped []string
	}{
		{nil, []string{"pkg-a", "pkg-b", "pkg-c"}},
		{[]string{"-ppkg-b"}, []string{"pkg-b"}},
		{[]string{"-Npkg-b"}, []string{"pkg-a", "pkg-c"}},
		{[]string{"-a"}, []string{"pkg-a", "pkg-b"}},
		{[]string{"-i"}, []string{"pkg-c"}},
	} {
		t.Run(strings.Join(append([]string{"args"}, c.args...), " "), func(t *testing.T) {
			dir := fakeSource(t, map[string][]string{"pkg-a": {"usr/bin/a"}, "pkg-b": {"usr/bin/b"}, "pkg-c": {"usr/bin/c"}})
			for _, p := range []string{"pkg-a", "pkg-b", "pkg-c"} {
				writeFile(t, filepath.Join(dir, "debian", p+".sysrestrict"), "usr/bin/* --deny @mount\n", 0o644)
			}
			if r := dhSysrestrict(t, dir, nil, c.args...); !r.ok() {
				t.Fatalf("dh_sysrestrict %v: %v\n%s%s", c.args, r, r.stdout, r.stderr)
			}
			want := map[string]bool{}
			for _, p := range c.stamped {
				want[p] = true
			}
			for _, p := range []string{"pkg-a", "pkg-b", "pkg-c"} {
				f := filepath.Join(dir, "debian", p, "usr/bin", p[len(p)-1:])
				if got := show(t, in.stamp, f)[f].Stamped; got != want[p] {
					t.Errorf("dh_sysrestrict %v: %s stamped %v, want %v", c.args, p, got, want[p])
				}
			}
		})
	}
}

// TestDhSysrestrictNoAct checks DH_NO_ACT (nothing written, not even the
// policy with skip rules) and DH_VERBOSE (the commands printed: the stamp,
// then the check of it, with -j from DEB_BUILD_OPTIONS=parallel).
func TestDhSysrestrictNoAct(t *testing.T) {
	dir := fakeSource(t, map[string][]string{"pkg-a": {"usr/bin/a", "usr/lib/debug/x.debug"}})
	writeFile(t, filepath.Join(dir, "debian/pkg-a.sysrestrict"), "usr/bin/* --deny @mount\n", 0o644)
	before := readFile(t, filepath.Join(dir, "debian/pkg-a/usr/bin/a"))
	r := dhSysrestrict(t, dir, []string{"DH_NO_ACT=1", "DH_VERBOSE=1", "DEB_BUILD_OPTIONS=parallel=3 nostrip"}, "-ppkg-a")
	if !r.ok() {
		t.Fatalf("dh_sysrestrict: %v\n%s%s", r, r.stdout, r.stderr)
	}
	if !bytes.Equal(readFile(t, filepath.Join(dir, "debian/pkg-a/usr/bin/a")), before) {
		t.Error("DH_NO_ACT=1: dh_sysrestrict changed a file")
	}
	if _, err := os.Stat(filepath.Join(dir, "debian/pkg-a.sysrestrict.debhelper")); err == nil {
		t.Error("DH_NO_ACT=1: dh_sysrestrict wrote debian/pkg-a.sysrestrict.debhelper")
	}
	stamp := "sysrestrict-stamp -j 3 --policy=debian/pkg-a.sysrestrict.debhelper --root=debian/pkg-a"
	check := "sysrestrict-stamp --check -j 3 --policy=debian/pkg-a.sysrestrict.debhelper --root=debian/pkg-a"
	i, j := strings.Index(r.stdout, stamp), strings.Index(r.stdout, check)
	if i < 0 || j < i {
		t.Errorf("DH_VERBOSE=1: want %q, then %q, in:\n%s", stamp, check, r.stdout)
	}

	// Without DH_VERBOSE, the check is quiet.
	r = dhSysrestrict(t, dir, []string{"DH_NO_ACT=1"}, "-ppkg-a")
	if !r.ok() || r.stdout != "" {
		t.Errorf("DH_NO_ACT=1 without DH_VERBOSE: %v, printed %q", r, r.stdout)
	}
}

// TestDhSysrestrictFails checks that what would leave a package
// unstamped, or stamped other than asked, fails the build with a message
// that names the file (and the line).
func TestDhSysrestrictFails(t *testing.T) {
	for _, c := range []struct {
		name   string
		policy string
		setup  func(t *testing.T, dir string)
		args   []string
		want   string // in stderr
	}{
		{name: "rule matches nothing", policy: "usr/bin/* --deny @mount\nusr/sbin/* --deny @mount\n",
			want: "debian/pkg-a.sysrestrict:2"},
		{name: "syntax error", policy: "usr/bin/* --deny @mount\n/usr/bin/a --deny @mount\n",
			want: "debian/pkg-a.sysrestrict:2"},
		{name: "unknown syscall", policy: "usr/bin/* --deny exceve\n", want: "exceve"},
		{name: "executable policy file", policy: "usr/bin/* --deny @mount\n",
			setup: func(t *testing.T, dir string) { os.Chmod(filepath.Join(dir, "debian/pkg-a.sysrestrict"), 0o755) },
			want:  "is executable"},
		{name: "no staging directory", policy: "usr/bin/* --deny @mount\n",
			setup: func(t *testing.T, dir string) { os.RemoveAll(filepath.Join(dir, "debian/pkg-a")) },
			want:  "does not exist"},
		{name: "strict: an executable no rule covers", policy: "usr/bin/* --deny @mount\n",
			setup: func(t *testing.T, dir string) {
				copyFile(t, "/bin/true", filepath.Join(dir, "debian/pkg-a/usr/libexec/helper"), 0o755)
			},
			args: []string{"--strict"}, want: "usr/libexec/helper"},
		{name: "newline in an excluded name", policy: "usr/bin/* --deny @mount\n",
			setup: func(t *testing.T, dir string) {
				copyFile(t, "/bin/true", filepath.Join(dir, "debian/pkg-a/usr/bin/new\nline"), 0o755)
			},
			args: []string{"-Xnew"}, want: "newline"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := fakeSource(t, map[string][]string{"pkg-a": {"usr/bin/a"}})
			writeFile(t, filepath.Join(dir, "debian/pkg-a.sysrestrict"), c.policy, 0o644)
			if c.setup != nil {
				c.setup(t, dir)
			}
			r := dhSysrestrict(t, dir, nil, append([]string{"-ppkg-a"}, c.args...)...)
			if r.ok() || !strings.Contains(r.stderr, c.want) {
				t.Errorf("dh_sysrestrict: %v, stderr %q; want a failure naming %q", r, r.stderr, c.want)
			}
		})
	}

	// Without --strict the uncovered executable is no failure.
	dir := fakeSource(t, map[string][]string{"pkg-a": {"usr/bin/a", "usr/libexec/helper"}})
	writeFile(t, filepath.Join(dir, "debian/pkg-a.sysrestrict"), "usr/bin/* --deny @mount\n", 0o644)
	if r := dhSysrestrict(t, dir, nil, "-ppkg-a"); !r.ok() {
		t.Errorf("dh_sysrestrict without --strict: %v\n%s", r, r.stderr)
	}
}

// TestAddonSequence asks dh for its sequence (--no-act): with the add-on,
// dh_sysrestrict comes right after dh_strip (which comes after dh_dwz);
// without it installed, dh refuses the build-dependency rather than build
// unstamped.
func TestAddonSequence(t *testing.T) {
	in := installTree(t)
	dh := need(t, "dh")
	dir := fakeSource(t, map[string][]string{"pkg-a": {"usr/bin/a"}})
	writeFile(t, filepath.Join(dir, "debian/pkg-a.sysrestrict"), "usr/bin/* --deny @mount\n", 0o644)
	writeFile(t, filepath.Join(dir, "debian/rules"), "#!/usr/bin/make -f\n%:\n\tdh $@\n", 0o755)
	env := []string{"PATH=" + in.bin + ":" + os.Getenv("PATH"), "PERL5LIB=" + in.perl, "-DH_VERBOSE", "-DEB_BUILD_OPTIONS"}
	for _, opts := range []string{"", "nostrip"} {
		r := run(t, dir, append(env, "DEB_BUILD_OPTIONS="+opts), dh, "binary", "--no-act")
		if !r.ok() {
			t.Fatalf("dh binary --no-act: %v\n%s", r, r.stderr)
		}
		var seq []string
		for _, l := range strings.Split(r.stdout, "\n") {
			if f := strings.Fields(l); len(f) > 0 {
				seq = append(seq, f[0])
			}
		}
		i := strings.Index(strings.Join(seq, " "), "dh_dwz dh_strip dh_sysrestrict dh_makeshlibs")
		if i < 0 {
			t.Errorf("DEB_BUILD_OPTIONS=%q: dh's sequence has no dh_dwz dh_strip dh_sysrestrict dh_makeshlibs:\n%s", opts, r.stdout)
		}
	}
	r := run(t, dir, []string{"PATH=" + in.bin + ":" + os.Getenv("PATH"), "-PERL5LIB"}, dh, "binary", "--no-act")
	if r.ok() || !strings.Contains(r.stderr, "sysrestrict") {
		t.Errorf("dh without the add-on installed: %v, stderr %q; want a failure naming it", r, r.stderr)
	}
}
