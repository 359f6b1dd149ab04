//go:build linux

package elfnote

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// A writePath is one way Stamp writes a file: through a new file renamed
// over it, in place (bits added to an existing note), or to -o.
type writePath struct {
	name    string
	fixture string
	output  bool
}

var writePaths = []writePath{
	{"rename", "x86_64-pie", false},
	{"in-place", "x86_64-note-valid-flags", false},
	{"output", "x86_64-pie", true},
}

// stampVia stamps a copy prepared by prepare along path p and returns the
// file written and the result.
func stampVia(t *testing.T, p writePath, opts Options, prepare func(string)) (string, *Result) {
	t.Helper()
	in := tempFixture(t, p.fixture)
	prepare(in)
	if p.output {
		opts.Output = filepath.Join(t.TempDir(), "out")
	}
	res, err := Stamp(in, bitmap.NewSet(bitmap.X86_64, 59, 101, 200), opts)
	if err != nil {
		t.Fatalf("Stamp(%s) = %v", p.name, err)
	}
	if res.Output == "" {
		t.Fatalf("Stamp(%s) wrote nothing: %+v", p.name, res)
	}
	return res.Output, res
}

func tool(t *testing.T, argv ...string) string {
	t.Helper()
	needTool(t, argv[0])
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// getfacl prints the file's ACL without its name, so two files compare.
func getfacl(t *testing.T, name string) string {
	return tool(t, "getfacl", "--omit-header", "--numeric", name)
}

func getcap(t *testing.T, name string) string {
	out := tool(t, "getcap", name)
	return strings.TrimSpace(strings.TrimPrefix(out, name))
}

// TestWritePathsKeepMetadata (as root): owner, group, setuid and setgid,
// file capabilities (setcap), an ACL (setfacl) and user xattrs survive every
// write path; security.ima is dropped and reported. A file whose
// privileges a write would clear is not written in place.
func TestWritePathsKeepMetadata(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("sets owners, capabilities and security.ima: needs root (CI runs as root)")
	}
	ima := []byte{0x03, 0x02, 0x04, 0xde, 0xad, 0xbe, 0xef}
	for _, p := range writePaths {
		t.Run(p.name, func(t *testing.T) {
			var wantACL string
			out, res := stampVia(t, p, Options{}, func(in string) {
				if err := os.Chown(in, 1234, 5678); err != nil {
					t.Fatal(err)
				}
				tool(t, "setfacl", "-m", "u:4321:r-x,g:8765:r--", in)
				if err := os.Chmod(in, os.ModeSetuid|os.ModeSetgid|0o751); err != nil {
					t.Fatal(err)
				}
				tool(t, "setcap", "cap_net_raw,cap_net_bind_service+ep", in)
				if err := unix.Setxattr(in, "user.sysrestrict-test", []byte("kept"), 0); err != nil {
					t.Fatal(err)
				}
				if err := unix.Setxattr(in, "security.ima", ima, 0); err != nil {
					t.Fatalf("setting security.ima: %v", err)
				}
				wantACL = getfacl(t, in)
			})
			if res.InPlace {
				t.Errorf("a setuid file with capabilities was written in place")
			}
			fi, err := os.Stat(out)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := fi.Mode(), os.ModeSetuid|os.ModeSetgid|0o751; got != want {
				t.Errorf("mode = %v, want %v", got, want)
			}
			if st := fi.Sys().(*syscall.Stat_t); st.Uid != 1234 || st.Gid != 5678 {
				t.Errorf("owner = %d:%d, want 1234:5678", st.Uid, st.Gid)
			}
			if got := getcap(t, out); got != "cap_net_bind_service,cap_net_raw=ep" {
				t.Errorf("getcap = %q, want cap_net_bind_service,cap_net_raw=ep", got)
			}
			if got := getfacl(t, out); got != wantACL {
				t.Errorf("ACL = %q, want %q", got, wantACL)
			}
			buf := make([]byte, 64)
			if n, err := unix.Getxattr(out, "user.sysrestrict-test", buf); err != nil || string(buf[:n]) != "kept" {
				t.Errorf("user.sysrestrict-test = %q, %v; want kept", buf[:max(n, 0)], err)
			}
			if _, err := unix.Getxattr(out, "security.ima", buf); err != unix.ENODATA {
				t.Errorf("security.ima after the stamp: %v, want ENODATA (dropped)", err)
			}
			if !slices.Equal(res.Dropped, []string{"security.ima"}) {
				t.Errorf("Result.Dropped = %q, want [security.ima]", res.Dropped)
			}
		})
	}
}

// TestInPlaceKeepsMetadata: a file with nothing a write clears is written
// in place, and keeps its ACL and xattrs (same inode).
func TestInPlaceKeepsMetadata(t *testing.T) {
	var ino uint64
	var wantACL string
	out, res := stampVia(t, writePaths[1], Options{}, func(in string) {
		tool(t, "setfacl", "-m", "u:4321:r-x", in)
		if err := unix.Setxattr(in, "user.sysrestrict-test", []byte("kept"), 0); err != nil {
			t.Fatal(err)
		}
		wantACL = getfacl(t, in)
		fi, _ := os.Stat(in)
		ino = fi.Sys().(*syscall.Stat_t).Ino
	})
	fi, _ := os.Stat(out)
	if !res.InPlace || fi.Sys().(*syscall.Stat_t).Ino != ino {
		t.Fatalf("Stamp = %+v: not written in place", res)
	}
	if got := getfacl(t, out); got != wantACL {
		t.Errorf("ACL = %q, want %q", got, wantACL)
	}
	buf := make([]byte, 8)
	if n, err := unix.Getxattr(out, "user.sysrestrict-test", buf); err != nil || string(buf[:n]) != "kept" {
		t.Errorf("user.sysrestrict-test = %q, %v; want kept", buf[:max(n, 0)], err)
	}
}

// TestModTime: Options.ModTime is the written file's mtime on every path;
// without it the file has the time of the write.
func TestModTime(t *testing.T) {
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	sde := time.Unix(1767225600, 0)
	for _, p := range writePaths {
		for _, want := range []time.Time{{}, sde} {
			start := time.Now().Add(-time.Second)
			out, _ := stampVia(t, p, Options{ModTime: want}, func(in string) {
				if err := os.Chtimes(in, old, old); err != nil {
					t.Fatal(err)
				}
			})
			fi, _ := os.Stat(out)
			switch {
			case want.IsZero() && fi.ModTime().Before(start):
				t.Errorf("%s without ModTime: mtime %v, want the time of the write", p.name, fi.ModTime())
			case !want.IsZero() && !fi.ModTime().Equal(want):
				t.Errorf("%s with ModTime %v: mtime %v", p.name, want, fi.ModTime())
			}
		}
	}
}
