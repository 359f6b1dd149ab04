package stampcli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSourceDateEpoch: with SOURCE_DATE_EPOCH a written file's mtime is
// clamped to it, on stamp and remove; a malformed value is a usage error
// that touches nothing.
func TestSourceDateEpoch(t *testing.T) {
	p := fixture(t, "x86_64-pie")
	t.Setenv("SOURCE_DATE_EPOCH", "1767225600")
	want := time.Unix(1767225600, 0)
	for _, args := range [][]string{{"--deny", "execve", p}, {"--remove", p}} {
		if code, _, stderr := stampRun(t, args...); code != 0 {
			t.Fatalf("%v = %d, %s", args, code, stderr)
		}
		if fi, _ := os.Stat(p); !fi.ModTime().Equal(want) {
			t.Errorf("%v: mtime %v, want SOURCE_DATE_EPOCH %v", args, fi.ModTime(), want)
		}
	}
	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	orig := mustRead(t, p)
	code, _, stderr := stampRun(t, "--deny", "execve", p)
	if code != 2 || !strings.Contains(stderr, "SOURCE_DATE_EPOCH") || string(mustRead(t, p)) != string(orig) {
		t.Errorf("SOURCE_DATE_EPOCH=yesterday: %d, %q; want usage error 2, file untouched", code, stderr)
	}
}

// TestDroppedAndReclaimed: the stamper warns that security.ima was dropped
// (in --json too), and says it removed a killed stamper's leftover.
func TestDroppedAndReclaimed(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("setting security.ima needs CAP_SYS_ADMIN: run as root (CI does)")
	}
	p := fixture(t, "x86_64-pie")
	if err := unix.Setxattr(p, "security.ima", []byte{3, 2, 4, 0xaa}, 0); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(filepath.Dir(p), ".x86_64-pie.sysrestrict-new")
	if err := os.WriteFile(stale, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := stampRun(t, "--deny", "execve", "--json", p)
	if code != 0 || !strings.Contains(stderr, "warning: "+p+": dropped security.ima") || !strings.Contains(stdout, `"dropped":["security.ima"]`) {
		t.Errorf("stamp of a file with security.ima = %d, stdout %q, stderr %q; want a warning and \"dropped\"", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "removed "+stale+", left by a stamper that was killed") {
		t.Errorf("stderr %q does not say the leftover was removed", stderr)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the leftover is still there: %v", err)
	}
	if _, _, stderr := stampRun(t, "-q", "--deny", "ptrace", p); stderr != "" {
		t.Errorf("-q: stderr %q, want nothing", stderr)
	}
}
