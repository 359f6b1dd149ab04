package packaging

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The test package: a C program and a Go program, and a copy of the C
// program that -X keeps unstamped; see its debian/rules and
// debian/hello-sysrestrict.sysrestrict.
const testPackage = "../testdata/packages/hello-sysrestrict"

// debBuild copies the test package to dir/name and builds it there with
// dpkg-buildpackage -us -uc -b, with dh_sysrestrict and the add-on from
// the make install of the tests. -d: the build-dependency on
// dh-sequence-sysrestrict is met by PERL5LIB, not by an installed
// package, and Go is the one in PATH. It returns the build log and the
// directory the .deb files are in.
func debBuild(t *testing.T, dir, name string, env ...string) (log, out string) {
	t.Helper()
	in := installTree(t)
	src := filepath.Join(dir, name)
	copyTree(t, testPackage, src)
	os.RemoveAll(filepath.Join(src, "rpm"))
	env = append([]string{"PATH=" + in.bin + ":" + os.Getenv("PATH"), "PERL5LIB=" + in.perl,
		"GOCACHE=" + goCache(t), "DH_QUIET=", "DH_NO_ACT=", "DEB_BUILD_OPTIONS="}, env...)
	r := runLog(t, src, env, "dpkg-buildpackage", "-us", "-uc", "-b", "-d")
	if !r.ok() {
		t.Fatalf("dpkg-buildpackage in %s: %v\n%s", src, r, tail(r.stdout, 80))
	}
	return r.stdout, dir
}

// goCache is one Go build cache for every package build of the tests: it
// saves compiling the standard library each time, and changes no output
// byte (the cache is keyed by every input).
func goCache(t *testing.T) string {
	t.Helper()
	if installRoot == "" {
		installTree(t)
	}
	return filepath.Join(installRoot, "gocache")
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func sha(t *testing.T, name string) string {
	t.Helper()
	h := sha256.Sum256(readFile(t, name))
	return hex.EncodeToString(h[:])
}

// inOrder fails unless each of words is in log, each after the one before.
func inOrder(t *testing.T, what, log string, words ...string) {
	t.Helper()
	at := 0
	for _, w := range words {
		i := strings.Index(log[at:], w)
		if i < 0 {
			t.Errorf("%s: %q is not in the build log after %q", what, w, log[max(0, at-80):at])
			return
		}
		at += i + len(w)
	}
}

// enforced runs the programs through the loader: each case says whether
// it must end with exit 0 and print want, or die of SIGSYS.
func enforced(t *testing.T, loader, dir string) {
	t.Helper()
	for _, c := range []struct {
		argv   []string
		sigsys bool
		want   string
	}{
		{[]string{"usr/bin/hello-c"}, false, "hello from C"},
		{[]string{"usr/bin/hello-c", "ptrace"}, true, ""},
		{[]string{"usr/bin/hello-c", "exec"}, true, ""},
		{[]string{"usr/bin/hello-go"}, false, "hello from Go"},
		{[]string{"usr/bin/hello-go", "ptrace"}, true, ""},
	} {
		argv := append([]string{loader, filepath.Join(dir, c.argv[0])}, c.argv[1:]...)
		r := run(t, "", nil, argv...)
		switch {
		case c.sigsys && !(r.status.Signaled() && r.status.Signal() == syscall.SIGSYS):
			t.Errorf("%q: %v, want killed by SIGSYS\n%s", argv, r, r.stderr)
		case !c.sigsys && (!r.ok() || !strings.Contains(r.stdout, c.want)):
			t.Errorf("%q: %v, stdout %q; want exit 0 and %q\n%s", argv, r, r.stdout, c.want, r.stderr)
		}
	}
}

// notes checks that the programs carry the notes their policy asks for,
// and that the files plain carry none.
func notes(t *testing.T, stamp, dir string, plain ...string) {
	t.Helper()
	c, g := filepath.Join(dir, "usr/bin/hello-c"), filepath.Join(dir, "usr/bin/hello-go")
	got := show(t, stamp, c, g)
	if s := got[c]; !s.Stamped || !restricts(s, "execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2") {
		t.Errorf("hello-c: %+v; want @exec, ptrace, process_vm_readv/writev and @mount restricted", s)
	}
	if s := got[g]; !s.Stamped || !restricts(s, "ptrace", "process_vm_readv", "mount") || restricts(s, "execve") {
		t.Errorf("hello-go: %+v; want ptrace, process_vm_readv/writev and @mount restricted, execve not", s)
	}
	// Read with debug/elf, not the stamper: a debug file from objcopy
	// --only-keep-debug keeps PT_NOTE headers over bytes it dropped,
	// which the stamper's reader refuses.
	for _, p := range plain {
		f, err := elf.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		stamped := f.Section(".note.sysrestrict") != nil
		f.Close()
		if stamped {
			t.Errorf("%s: has a .note.sysrestrict section; want it left alone", p)
		}
	}
}

// TestDebianPackage builds the test package with dpkg-buildpackage, the
// add-on and dh_sysrestrict, twice in different directories and once with
// DEB_BUILD_OPTIONS=nostrip, and checks what a packager relies on: the
// binaries in the .deb carry the notes the policy asks for and run
// enforced; the two builds give the same .deb files; the stamp keeps the
// build-id and the debug link, so the dbgsym package still fits; and the
// installed package passes dpkg --verify.
func TestDebianPackage(t *testing.T) {
	long(t)
	for _, tool := range []string{"dpkg-buildpackage", "dpkg-deb", "dh", "dwz", "objcopy", "cc", "go"} {
		need(t, tool)
	}
	in := installTree(t)
	work := t.TempDir()
	log1, out1 := debBuild(t, filepath.Join(work, "one"), "hello-sysrestrict-1.0")
	_, out2 := debBuild(t, filepath.Join(work, "two"), "elsewhere")

	// dh_sysrestrict after dh_dwz and dh_strip, before what reads or
	// packs the files.
	inOrder(t, "dh sequence", log1, "dh_dwz -Xhello-go", "dh_strip -a", "dh_sysrestrict -Xhello-plain",
		"sysrestrict-stamp --check", "dh_makeshlibs", "dh_shlibdeps", "dh_md5sums", "dh_builddeb")

	debs := []string{"hello-sysrestrict_1.0_amd64.deb", "hello-sysrestrict-dbgsym_1.0_amd64.deb"}
	for _, d := range debs {
		if a, b := sha(t, filepath.Join(out1, d)), sha(t, filepath.Join(out2, d)); a != b {
			t.Errorf("%s: sha256 %s in one build, %s in the other", d, a, b)
		}
	}

	x, y := filepath.Join(work, "x"), filepath.Join(work, "y")
	mustRun(t, "", nil, "dpkg-deb", "-x", filepath.Join(out1, debs[0]), x)
	mustRun(t, "", nil, "dpkg-deb", "-x", filepath.Join(out1, debs[1]), y)
	notes(t, in.stamp, x, filepath.Join(x, "usr/lib/hello-sysrestrict/hello-plain"))
	enforced(t, in.loader, x)
	for _, p := range []string{"usr/bin/hello-c", "usr/bin/hello-go"} {
		debugFits(t, filepath.Join(x, p), y)
	}

	t.Run("nostrip", func(t *testing.T) {
		log, out := debBuild(t, filepath.Join(work, "three"), "hello-sysrestrict-1.0", "DEB_BUILD_OPTIONS=nostrip")
		// dh (compat 13) omits dh_dwz (here its override) and
		// dh_strip; dh_sysrestrict still runs, in their place.
		inOrder(t, "dh sequence with nostrip", log,
			`The call to "debian/rules override_dh_dwz" was omitted due to "DEB_BUILD_OPTIONS=nostrip"`,
			`The call to "dh_strip" was omitted due to "DEB_BUILD_OPTIONS=nostrip"`,
			"dh_sysrestrict -Xhello-plain", "dh_makeshlibs", "dh_md5sums")
		z := filepath.Join(work, "z")
		mustRun(t, "", nil, "dpkg-deb", "-x", filepath.Join(out, debs[0]), z)
		notes(t, in.stamp, z)
		enforced(t, in.loader, z)
		f, err := elf.Open(filepath.Join(z, "usr/bin/hello-c"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if f.Section(".symtab") == nil || f.Section(".debug_info") == nil {
			t.Error("nostrip: usr/bin/hello-c was stripped")
		}
	})

	t.Run("dpkg -i", func(t *testing.T) {
		needRoot(t, "dpkg -i")
		mustRun(t, "", nil, "dpkg", "-i", filepath.Join(out1, debs[0]))
		t.Cleanup(func() { run(t, "", nil, "dpkg", "--purge", "hello-sysrestrict") })
		if r := run(t, "", nil, "dpkg", "--verify", "hello-sysrestrict"); !r.ok() || r.stdout != "" {
			t.Errorf("dpkg --verify hello-sysrestrict: %v\n%s%s", r, r.stdout, r.stderr)
		}
		enforced(t, in.loader, "/")
	})
}

// debugFits checks that the stamped binary still names its debug file in
// the dbgsym tree: the build-id is unchanged (the file is at
// usr/lib/debug/.build-id/xx/rest.debug) and the CRC in .gnu_debuglink is
// that file's.
func debugFits(t *testing.T, bin, dbgsym string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := f.Section(".note.gnu.build-id")
	if s == nil {
		t.Fatalf("%s: no .note.gnu.build-id", bin)
	}
	note, err := s.Data()
	if err != nil || len(note) < 16 {
		t.Fatalf("%s: .note.gnu.build-id: %v", bin, err)
	}
	id := hex.EncodeToString(note[16:]) // Elf64_Nhdr (12 bytes), "GNU\0"
	debug := filepath.Join(dbgsym, "usr/lib/debug/.build-id", id[:2], id[2:]+".debug")
	b, err := os.ReadFile(debug)
	if err != nil {
		t.Fatalf("%s: build-id %s has no debug file in the dbgsym package: %v", bin, id, err)
	}
	l := f.Section(".gnu_debuglink")
	if l == nil {
		t.Fatalf("%s: no .gnu_debuglink", bin)
	}
	link, err := l.Data()
	if err != nil {
		t.Fatal(err)
	}
	name, _, _ := strings.Cut(string(link), "\x00")
	if name != id[2:]+".debug" {
		t.Errorf("%s: .gnu_debuglink names %q, want %q", bin, name, id[2:]+".debug")
	}
	if len(link) < 4 {
		t.Fatalf("%s: .gnu_debuglink too short", bin)
	}
	if crc := f.ByteOrder.Uint32(link[len(link)-4:]); crc != crc32.ChecksumIEEE(b) {
		t.Errorf("%s: .gnu_debuglink CRC %#x, the debug file's is %#x", bin, crc, crc32.ChecksumIEEE(b))
	}
}
