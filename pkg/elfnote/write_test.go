//go:build linux

package elfnote

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

var execveSet = bitmap.NewSet(bitmap.X86_64, 59)

// tempFixture copies a fixture into a new directory and returns its path.
func tempFixture(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	copyFile(t, filepath.Join(fixtureDir, name), p)
	return p
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStampBadInput(t *testing.T) {
	dir := t.TempDir()
	if _, err := Stamp(dir, execveSet, Options{}); err == nil {
		t.Errorf("Stamp(directory) = nil error")
	}
	if _, err := Stamp(filepath.Join(dir, "missing"), execveSet, Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Stamp(missing) = %v, want ErrNotExist", err)
	}
	// A file under /proc cannot be replaced: the error is clear and the
	// file is unchanged.
	if _, err := Stamp("/proc/self/status", execveSet, Options{}); err == nil {
		t.Errorf("Stamp(/proc/self/status) = nil error")
	}

	// Truncated at many offsets: refused, untouched, no temporary file.
	orig := mustRead(t, filepath.Join(fixtureDir, "x86_64-pie"))
	for _, n := range []int{0, 1, 4, 16, 17, 52, 63, 64, 100, 120, 0x2d8, 0x318, 1000, 4096, len(orig) / 2, len(orig) - 64, len(orig) - 1} {
		p := filepath.Join(dir, fmt.Sprintf("trunc%d", n))
		if err := os.WriteFile(p, orig[:n], 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := Stamp(p, execveSet, Options{}); err == nil {
			t.Errorf("Stamp(truncated at %d) = nil error", n)
		} else {
			t.Logf("truncated at %d: %v", n, err)
		}
		if !bytes.Equal(mustRead(t, p), orig[:n]) {
			t.Errorf("Stamp(truncated at %d) changed the file", n)
		}
	}
	assertNoTemp(t, dir)
}

// TestStampInjectedFailure fails every step of both write paths in turn:
// the original stays byte-for-byte unchanged and no temporary file is left.
func TestStampInjectedFailure(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		steps   []string
	}{
		{"x86_64-pie", []string{"plan", "create", "copy", "patch", "metadata", "fsync", "link", "rename"}},
		{"x86_64-note-valid-flags", []string{"plan", "write", "fsync"}}, // in place
	} {
		for _, s := range tc.steps {
			t.Run(tc.fixture+"/"+s, func(t *testing.T) {
				p := tempFixture(t, tc.fixture)
				orig := mustRead(t, p)
				opts := Options{}
				opts.hook = func(step string) error {
					if step == s {
						return fmt.Errorf("injected failure at %s", step)
					}
					return nil
				}
				_, err := Stamp(p, bitmap.NewSet(bitmap.X86_64, 59, 101, 200), opts)
				if err == nil {
					t.Fatalf("Stamp with a failure at %s = nil error", s)
				}
				now := mustRead(t, p)
				if s == "fsync" && tc.fixture == "x86_64-note-valid-flags" {
					// In place, the bytes are written before fsync fails:
					// the note may be the new one, never a looser one.
					f, err := Read(bytes.NewReader(now))
					if err != nil || !f.Set.Contains(bitmap.NewSet(bitmap.X86_64, 59, 101)) {
						t.Errorf("after a failed in-place fsync: %v, %v", f, err)
					}
				} else if !bytes.Equal(now, orig) {
					t.Errorf("Stamp failed at %s but changed the file", s)
				}
				assertNoTemp(t, filepath.Dir(p))
			})
		}
	}
}

func TestStampKeepsMetadata(t *testing.T) {
	p := tempFixture(t, "x86_64-pie")
	if err := os.Chown(p, 1234, 5678); err != nil {
		t.Skipf("chown needs root: %v", err)
	}
	if err := os.Chmod(p, os.ModeSetuid|os.ModeSetgid|0o751); err != nil {
		t.Fatal(err)
	}
	// security.capability, v2: cap_net_raw (13) permitted and effective.
	capv2 := []byte{0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if err := unix.Setxattr(p, "security.capability", capv2, 0); err != nil {
		t.Skipf("setting security.capability: %v", err)
	}
	userAttr := unix.Setxattr(p, "user.sysrestrict-test", []byte("kept"), 0) == nil
	before, _ := os.Stat(p)
	res, err := Stamp(p, execveSet, Options{})
	if err != nil || res.InPlace {
		t.Fatalf("Stamp = %+v, %v", res, err)
	}
	after, _ := os.Stat(p)
	if after.Mode() != before.Mode() {
		t.Errorf("mode = %v, want %v", after.Mode(), before.Mode())
	}
	st := after.Sys().(*syscall.Stat_t)
	if st.Uid != 1234 || st.Gid != 5678 {
		t.Errorf("owner = %d:%d, want 1234:5678", st.Uid, st.Gid)
	}
	buf := make([]byte, 64)
	n, err := unix.Getxattr(p, "security.capability", buf)
	if err != nil || !bytes.Equal(buf[:n], capv2) {
		t.Errorf("security.capability = %x, %v; want %x", buf[:max(n, 0)], err, capv2)
	}
	if userAttr {
		n, err := unix.Getxattr(p, "user.sysrestrict-test", buf)
		if err != nil || string(buf[:n]) != "kept" {
			t.Errorf("user.sysrestrict-test = %q, %v", buf[:max(n, 0)], err)
		}
	}
}

func TestStampSymlinkOutputDryRun(t *testing.T) {
	p := tempFixture(t, "x86_64-pie")
	orig := mustRead(t, p)
	link := filepath.Join(filepath.Dir(p), "link")
	if err := os.Symlink(filepath.Base(p), link); err != nil {
		t.Fatal(err)
	}

	res, err := Stamp(link, execveSet, Options{DryRun: true})
	if err != nil || !res.Changed || !res.DryRun || res.Output != "" || !bytes.Equal(mustRead(t, p), orig) {
		t.Errorf("DryRun: %+v, %v; the file must not change", res, err)
	}

	out := filepath.Join(t.TempDir(), "out")
	if _, err := Stamp(link, execveSet, Options{Output: out}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustRead(t, p), orig) {
		t.Errorf("Stamp with Output changed the input")
	}
	if f, err := ReadFile(out); err != nil || !f.Set.Equal(execveSet) {
		t.Errorf("Output file: %v, %v", f, err)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o755 {
		t.Errorf("Output mode = %v, want the input's", fi.Mode())
	}

	res, err = Stamp(link, execveSet, Options{})
	if err != nil || res.Path != p {
		t.Fatalf("Stamp(symlink) = %+v, %v; want the target %s stamped", res, err, p)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced")
	}
	if f, err := ReadFile(p); err != nil || !f.Set.Equal(execveSet) {
		t.Errorf("target: %v, %v", f, err)
	}
}

// TestStampConcurrent runs many stampers on one file at once, each adding
// its own syscall: none may be lost, the file must stay valid.
func TestStampConcurrent(t *testing.T) {
	p := tempFixture(t, "x86_64-pie")
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := Stamp(p, bitmap.NewSet(bitmap.X86_64, 100+i), Options{}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	f, err := ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want := bitmap.NewSet(bitmap.X86_64)
	for i := range n {
		want.Add(100 + i)
	}
	if !f.Set.Equal(want) {
		t.Errorf("after %d concurrent stamps: %v, want %v", n, f.Set, want)
	}
	assertNoTemp(t, filepath.Dir(p))
}

// TestStampFullOrReadOnlyFS stamps on a tiny tmpfs that fills up, and on
// one mounted read-only.
func TestStampFullOrReadOnlyFS(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("mounting a tmpfs needs root: %v", err)
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	p := filepath.Join(dir, "x86_64-pie")
	copyFile(t, filepath.Join(fixtureDir, "x86_64-pie"), p)
	orig := mustRead(t, p)
	// Fill the rest of the file system.
	fill, _ := os.Create(filepath.Join(dir, "fill"))
	fill.Write(make([]byte, 1<<20))
	fill.Close()
	_, err := Stamp(p, execveSet, Options{})
	if !errors.Is(err, unix.ENOSPC) {
		t.Errorf("Stamp on a full file system = %v, want ENOSPC", err)
	}
	if !bytes.Equal(mustRead(t, p), orig) {
		t.Errorf("Stamp on a full file system changed the file")
	}
	assertNoTemp(t, dir)

	os.Remove(filepath.Join(dir, "fill"))
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		t.Fatalf("remounting read-only: %v", err)
	}
	_, err = Stamp(p, execveSet, Options{})
	if !errors.Is(err, unix.EROFS) {
		t.Errorf("Stamp on a read-only file system = %v, want EROFS", err)
	}
	if !bytes.Equal(mustRead(t, p), orig) {
		t.Errorf("Stamp on a read-only file system changed the file")
	}
}

// TestStampRunning stamps a program while it runs: the in-place path gets
// ETXTBSY, and the new-file path takes over.
func TestStampRunning(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skipf("no sleep(1): %v", err)
	}
	p := filepath.Join(t.TempDir(), "sleep")
	copyFile(t, sleep, p)
	if _, err := Stamp(p, execveSet, Options{}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(p, "10")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	res, err := Stamp(p, bitmap.NewSet(bitmap.X86_64, 101), Options{})
	if err != nil || res.InPlace || !res.Changed {
		t.Fatalf("Stamp of a running program = %+v, %v; want a new file", res, err)
	}
	if f, err := ReadFile(p); err != nil || !f.Set.Equal(bitmap.NewSet(bitmap.X86_64, 59, 101)) {
		t.Errorf("after Stamp: %v, %v", f, err)
	}
}

// TestStaleTemp: a new file's name left by a killed stamper is removed by
// the next stamp of the file (which holds its lock); for -o, whose output
// nobody locks, it is an error that names it, and nothing is written.
func TestStaleTemp(t *testing.T) {
	set := bitmap.NewSet(bitmap.X86_64, 59)
	for _, named := range []bool{false, true} {
		p := tempFixture(t, "x86_64-pie")
		stale := tempName(p)
		if err := os.WriteFile(stale, []byte("left by a killed stamper"), 0o755|os.ModeSetuid); err != nil {
			t.Fatal(err)
		}
		res, err := Stamp(p, set, Options{noTmpfile: named})
		if err != nil || res.Reclaimed != stale {
			t.Fatalf("Stamp beside a stale %s (named %v) = %+v, %v; want it removed", stale, named, res, err)
		}
		if extra := leftovers(t, filepath.Dir(p), p); len(extra) > 0 {
			t.Errorf("after Stamp: %v beside the target", extra)
		}

		in := tempFixture(t, "x86_64-pie")
		out := filepath.Join(t.TempDir(), "out")
		if err := os.WriteFile(tempName(out), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err = Stamp(in, set, Options{Output: out, noTmpfile: named})
		if err == nil || !strings.Contains(err.Error(), tempName(out)) {
			t.Errorf("Stamp -o beside a stale temporary file (named %v) = %v, want an error naming %s", named, err, tempName(out))
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("Stamp -o failed but wrote %s: %v", out, err)
		}
		if _, err := os.Stat(tempName(out)); err != nil {
			t.Errorf("Stamp -o removed the temporary file it does not own: %v", err)
		}
	}
}
