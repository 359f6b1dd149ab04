//go:build linux

package execcli

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestNoNewPrivs shows what docs/exec.md ("setuid, setgid and file
// capabilities under no_new_privs") says: through the loader, which sets
// no_new_privs to install the filter, a setuid-root program run by nobody
// runs as nobody, and a program with a file capability runs without it;
// run directly, or unstamped with no options (no filter, no
// no_new_privs), each keeps what its file grants.
func TestNoNewPrivs(t *testing.T) {
	need(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root: to make a setuid-root file and to run as nobody")
	}
	// Everything in a directory nobody can reach; t.TempDir is 0700.
	dir, err := os.MkdirTemp("", "execcli-nnp")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ld, setuid, capped := filepath.Join(dir, "sysrestrict-exec"), filepath.Join(dir, "setuid"), filepath.Join(dir, "capped")
	copyFile(t, loader, ld, 0o755)
	copyFile(t, escape, setuid, 0o755)
	copyFile(t, escape, capped, 0o755)
	if err := os.Chmod(setuid, 0o755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	// struct vfs_cap_data, VFS_CAP_REVISION_2 with the effective flag:
	// CAP_NET_BIND_SERVICE (10) permitted and effective.
	caps := binary.LittleEndian.AppendUint32(nil, 0x02000000|1)
	caps = binary.LittleEndian.AppendUint32(caps, 1<<unix.CAP_NET_BIND_SERVICE)
	caps = append(caps, make([]byte, 12)...)
	if err := unix.Setxattr(capped, "security.capability", caps, 0); err != nil {
		t.Skipf("this file system keeps no file capabilities (setxattr security.capability: %v)", err)
	}
	asNobody := func(argv ...string) string {
		t.Helper()
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v as nobody: %v\n%s", argv, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	const netBind = "capeff 400" // 1 << CAP_NET_BIND_SERVICE
	for _, tt := range []struct {
		name string
		argv []string
		want string
	}{
		{"setuid-root, directly", []string{setuid, "creds"}, "euid 0 "},
		{"setuid-root, through the loader", []string{ld, "--deny", "ptrace", setuid, "creds"}, "euid 65534 capeff 0"},
		{"file capability, directly", []string{capped, "creds"}, "euid 65534 " + netBind},
		{"file capability, through the loader", []string{ld, "--deny", "ptrace", capped, "creds"}, "euid 65534 capeff 0"},
		{"file capability, unstamped, no options", []string{ld, capped, "creds"}, "euid 65534 " + netBind},
	} {
		if got := asNobody(tt.argv...); !strings.HasPrefix(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
