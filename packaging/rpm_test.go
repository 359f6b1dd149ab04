package packaging

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rpmBuild builds the test package's spec with rpmbuild -bb in the top
// directory top, with the macros and brp-sysrestrict of the tests' make
// install (--load, then --define of the two paths make install would
// have written without DESTDIR), and the settings a reproducible build
// system uses (build time and file times from the %changelog, a fixed
// build host). It returns the build log and the directory of the .rpm
// files.
func rpmBuild(t *testing.T, top string) (log, rpms string) {
	t.Helper()
	in := installTree(t)
	src := filepath.Join(testPackage)
	sources := filepath.Join(top, "SOURCES")
	for _, f := range []string{"hello.c", "go/main.go", "go/go.mod", "rpm/hello-sysrestrict.sysrestrict"} {
		copyFile(t, filepath.Join(src, f), filepath.Join(sources, filepath.Base(f)), 0o644)
	}
	r := runLog(t, "", []string{"GOCACHE=" + goCache(t), "-SOURCE_DATE_EPOCH"},
		"rpmbuild", "-bb",
		"--load", in.macros,
		"--define", "__sysrestrict_brp "+filepath.Join(in.rpmdir, "brp-sysrestrict"),
		"--define", "__sysrestrict_stamp "+in.stamp,
		"--define", "_topdir "+top,
		"--define", "_buildhost reproducible",
		"--define", "source_date_epoch_from_changelog 1",
		"--define", "use_source_date_epoch_as_buildtime 1",
		"--define", "clamp_mtime_to_source_date_epoch 1",
		filepath.Join(src, "rpm/hello-sysrestrict.spec"))
	if !r.ok() {
		t.Fatalf("rpmbuild in %s: %v\n%s", top, r, tail(r.stdout, 80))
	}
	return r.stdout, filepath.Join(top, "RPMS/x86_64")
}

// TestRPMPackage builds the test package with rpmbuild twice, in
// different top directories: brp-sysrestrict runs last in
// %__os_install_post, after find-debuginfo, brp-strip and
// brp-strip-comment-note; %check's gate passes; the two builds give the
// same .rpm files; installed (into a root of its own) the package passes
// rpm -V, and its binaries carry their notes and run enforced.
func TestRPMPackage(t *testing.T) {
	long(t)
	for _, tool := range []string{"rpmbuild", "rpm", "find-debuginfo", "cc", "go"} {
		need(t, tool)
	}
	in := installTree(t)
	work := t.TempDir()
	log1, rpms1 := rpmBuild(t, filepath.Join(work, "one"))
	_, rpms2 := rpmBuild(t, filepath.Join(work, "two"))

	inOrder(t, "rpm %install", log1, "Executing(%install)", "find-debuginfo", "brp-strip ", "brp-strip-comment-note",
		"brp-remove-la-files", "brp-sysrestrict "+in.stamp, "Executing(%check)", "brp-sysrestrict --check", "Processing files")

	pkgs := []string{"hello-sysrestrict-1.0-1.x86_64.rpm", "hello-sysrestrict-debuginfo-1.0-1.x86_64.rpm"}
	for _, p := range pkgs {
		if a, b := sha(t, filepath.Join(rpms1, p)), sha(t, filepath.Join(rpms2, p)); a != b {
			t.Errorf("%s: sha256 %s in one build, %s in the other", p, a, b)
		}
	}

	t.Run("rpm -i", func(t *testing.T) {
		needRoot(t, "rpm -i into a root of its own")
		root := filepath.Join(work, "root")
		if err := os.MkdirAll(root, 0o755); err != nil {
			t.Fatal(err)
		}
		mustRun(t, "", nil, "rpm", "--root", root, "--initdb")
		// --nodeps: the root holds no libc package for the Requires.
		mustRun(t, "", nil, "rpm", "--root", root, "-i", "--nodeps", filepath.Join(rpms1, pkgs[0]), filepath.Join(rpms1, pkgs[1]))
		if r := run(t, "", nil, "rpm", "--root", root, "-V", "--nodeps", "hello-sysrestrict", "hello-sysrestrict-debuginfo"); !r.ok() || r.stdout != "" {
			t.Errorf("rpm -V: %v\n%s%s", r, r.stdout, r.stderr)
		}
		// The policy's first rule matches the .debug files too; they are
		// left alone.
		debug, _ := filepath.Glob(filepath.Join(root, "usr/lib/debug/usr/bin/hello-*.debug"))
		if len(debug) != 2 {
			t.Fatalf("debuginfo package: %v, want the two .debug files", debug)
		}
		notes(t, in.stamp, root, debug...)
		enforced(t, in.loader, root)
	})
}

// TestSpecNeedsMacros checks that a spec that asks for the stamp does not
// build without macros.sysrestrict: rpm stops at the unknown line rather
// than build unstamped.
func TestSpecNeedsMacros(t *testing.T) {
	rpmspec := need(t, "rpmspec")
	spec := filepath.Join(testPackage, "rpm/hello-sysrestrict.spec")
	if r := run(t, "", nil, rpmspec, "-P", spec); r.ok() || !strings.Contains(r.stderr, "sysrestrict_enable") {
		t.Errorf("rpmspec -P without the macros: %v, stderr %q; want a failure at %%sysrestrict_enable", r, r.stderr)
	}
	in := installTree(t)
	r := mustRun(t, "", nil, rpmspec, "--load", in.macros, "-P", spec)
	if strings.Contains(r.stdout, "sysrestrict_enable") {
		t.Errorf("rpmspec -P with the macros left %%sysrestrict_enable unexpanded:\n%s", r.stdout)
	}
}
