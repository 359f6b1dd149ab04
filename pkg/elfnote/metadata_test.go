//go:build linux

package elfnote

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysrestrict/sysrestrict/internal/testutil"
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
			if _, err := unix.Getxattr(out, "security.ima", buf); !errors.Is(err, unix.ENODATA) {
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

// asUser returns a command that runs the shell script under uid 65534 if
// the test runs as root (setpriv), else as the test's own user, with this
// test binary, readable by that user, as $STAMPER: stamper(t) runs it as
// t's child, which stamps the file crashEnvFile names and exits. As root it
// chowns everything in dir to 65534 now (which clears setuid and
// capabilities): set those up after the call.
func asUser(t *testing.T, dir, script string) *exec.Cmd {
	t.Helper()
	bin := filepath.Join(dir, "stamper.test")
	copyExecutable(t, os.Args[0], bin)
	argv := []string{"sh", "-c", script}
	if os.Geteuid() == 0 {
		needTool(t, "setpriv")
		argv = append([]string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"}, argv...)
		if err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, 65534, 65534)
		}); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "STAMPER="+bin)
	return cmd
}

// stamper returns the shell words that run $STAMPER as t's child, the
// stamper: t calls crashStamp when testutil.InSubprocess(t).
func stamper(t *testing.T) string {
	return testutil.Shell(t, `"$STAMPER"`)
}

func copyExecutable(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// sharedDir is a directory another user can enter.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sysrestrict-meta-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestFakeroot: under fakeroot(1), as a package build runs it, the owner,
// group and mode (chown root:man, chmod 4755), the capabilities (setcap)
// and the user xattrs that the session gave a file are what the session
// sees after the stamp, on every write path. (fakeroot has no ACLs:
// setfacl fails in its sessions.)
func TestFakeroot(t *testing.T) {
	needTool(t, "fakeroot")
	needTool(t, "setcap")
	needTool(t, "setfattr")
	for _, p := range writePaths {
		for _, mode := range []string{"4755", "755"} {
			t.Run(p.name+"/"+mode, func(t *testing.T) {
				if testutil.InSubprocess(t) {
					crashStamp()
				}
				dir := sharedDir(t)
				copyFile(t, filepath.Join(fixtureDir, p.fixture), filepath.Join(dir, "prog"))
				out := "prog"
				env := crashEnvFile + "=prog"
				if p.output {
					out = "out"
					env += " " + crashEnvOut + "=out"
				}
				script := `set -e
chown 0:12 prog
chmod ` + mode + ` prog
setcap cap_net_raw+ep prog
setfattr -n user.sysrestrict-test -v kept prog
before=$(stat -c %i prog)
env ` + env + ` ` + stamper(t) + `
stat -c '%u:%g %a' ` + out + `
getcap ` + out + ` | cut -d' ' -f2
getfattr --only-values -n user.sysrestrict-test ` + out + `; echo
[ "$(stat -c %i prog)" = "$before" ] && echo same-inode || echo new-inode`
				cmd := asUser(t, dir, "fakeroot -- sh -c '"+strings.ReplaceAll(script, "'", `'\''`)+"'")
				b, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("under fakeroot: %v\n%s", err, b)
				}
				lines := strings.Split(strings.TrimSpace(string(b)), "\n")
				if len(lines) < 4 || !slices.Equal(lines[len(lines)-4:len(lines)-1], []string{"0:12 " + mode, "cap_net_raw=ep", "kept"}) {
					t.Errorf("under fakeroot, %s after the stamp: %q, want owner, group and mode 0:12 %s, the capability and the user xattr the session gave it", out, b, mode)
				}
				f, err := ReadFile(filepath.Join(dir, out))
				if err != nil || !f.Stamped {
					t.Errorf("%s is not stamped: %v", out, err)
				}
				t.Logf("%s", lines[len(lines)-1])
			})
		}
	}
}

// TestUnprivileged: as a plain user (uid 65534 when the test runs as
// root), every write path keeps setuid, setgid, an ACL and user xattrs; what
// the user cannot give a new file (capabilities, a setgid group it is not
// in) makes the stamp fail with the file untouched, never silently lost.
func TestUnprivileged(t *testing.T) {
	needTool(t, "setfacl")
	needTool(t, "setfattr")
	for _, p := range writePaths {
		t.Run(p.name, func(t *testing.T) {
			if testutil.InSubprocess(t) {
				crashStamp()
			}
			dir := sharedDir(t)
			copyFile(t, filepath.Join(fixtureDir, p.fixture), filepath.Join(dir, "prog"))
			out, env := "prog", crashEnvFile+"=prog"
			if p.output {
				out, env = "out", env+" "+crashEnvOut+"=out"
			}
			script := `set -e
chmod 6755 prog
setfacl -m u:4321:r-x prog
setfattr -n user.sysrestrict-test -v kept prog
getfacl --omit-header --numeric prog | sed 's/^# file: .*//' > acl.before
env ` + env + ` ` + stamper(t) + `
stat -c '%a' ` + out + `
getfacl --omit-header --numeric ` + out + ` | sed 's/^# file: .*//' | cmp - acl.before && echo acl-kept
getfattr --only-values -n user.sysrestrict-test ` + out
			b, err := asUser(t, dir, script).CombinedOutput()
			if err != nil {
				t.Fatalf("as a plain user: %v\n%s", err, b)
			}
			if got, want := strings.Fields(string(b)), []string{"6755", "acl-kept", "kept"}; !slices.Equal(got, want) {
				t.Errorf("as a plain user, %s after the stamp: %q, want mode 6755, the ACL and the xattr kept", out, b)
			}
			if f, err := ReadFile(filepath.Join(dir, out)); err != nil || !f.Stamped {
				t.Errorf("as a plain user, %s is not stamped: %v", out, err)
			}
		})
	}
	// The refusals need a file root prepared; their stamper children run
	// as 65534, so each subtest, not this test, asks for root.
	needRoot := func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("preparing the file needs root (setcap, chown to a group 65534 is not in)")
		}
	}
	t.Run("capabilities", func(t *testing.T) {
		if testutil.InSubprocess(t) {
			crashStamp()
		}
		needRoot(t)
		dir := sharedDir(t)
		prog := filepath.Join(dir, "prog")
		copyFile(t, filepath.Join(fixtureDir, "x86_64-pie"), prog)
		cmd := asUser(t, dir, "env "+crashEnvFile+"=prog "+stamper(t)) // chowns dir to 65534
		tool(t, "setcap", "cap_net_raw+ep", prog)
		orig := mustRead(t, prog)
		b, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(b), "security.capability") {
			t.Errorf("stamping a file with capabilities without CAP_SETFCAP: %v, %q; want an error naming security.capability", err, b)
		}
		if !bytes.Equal(mustRead(t, prog), orig) || getcap(t, prog) != "cap_net_raw=ep" {
			t.Errorf("the refused stamp changed the file or its capabilities")
		}
	})
	t.Run("setgid-foreign-group", func(t *testing.T) {
		if testutil.InSubprocess(t) {
			crashStamp()
		}
		needRoot(t)
		dir := sharedDir(t)
		prog := filepath.Join(dir, "prog")
		copyFile(t, filepath.Join(fixtureDir, "x86_64-pie"), prog)
		orig := mustRead(t, prog)
		cmd := asUser(t, dir, "env "+crashEnvFile+"=prog "+stamper(t)) // chowns dir to 65534
		// A group 65534 is not in, on the file and, through a setgid
		// directory, on every file created there: the new file's group is
		// right, and only chmod can drop the bit.
		if err := os.Chown(prog, 65534, 0); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, 65534, 0); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, os.ModeSetgid|0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(prog, os.ModeSetgid|0o755); err != nil {
			t.Fatal(err)
		}
		b, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(b), "setgid") {
			t.Errorf("stamping a setgid file of a foreign group: %v, %q; want an error about setgid", err, b)
		}
		if !bytes.Equal(mustRead(t, prog), orig) {
			t.Errorf("the refused stamp changed the file")
		}
	})
}
