package bitmap

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestGroupsCaptureMatchesSystemd checks that the committed capture that
// zgroups.go is generated from is what this machine's systemd prints. On a
// machine with another systemd version the capture is still valid, just
// older or newer: the test says so and skips.
func TestGroupsCaptureMatchesSystemd(t *testing.T) {
	path, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("systemd-analyze not found; CI installs systemd: %v", err)
		}
		t.Skip("systemd-analyze not installed: cannot compare the group capture with systemd")
	}
	version, err := exec.Command(path, "--version").Output()
	if err != nil {
		t.Fatalf("systemd-analyze --version: %v", err)
	}
	if v := strings.SplitN(string(version), " (", 2)[0]; v != systemdVersion {
		t.Skipf("this machine has %s, the capture is from %s: run make update-groups to move to it", v, systemdVersion)
	}
	live, err := exec.Command(path, "syscall-filter", "--no-pager").Output()
	if err != nil {
		t.Fatalf("systemd-analyze syscall-filter: %v", err)
	}
	capture, err := os.ReadFile("../../internal/gen/groups/systemd-syscall-filter.txt")
	if err != nil {
		t.Fatal(err)
	}
	// The capture is two header lines, then the command's output.
	_, body, _ := bytes.Cut(capture, []byte("\n"))
	_, body, _ = bytes.Cut(body, []byte("\n"))
	if !bytes.Equal(withoutUnlisted(body), withoutUnlisted(live)) {
		t.Errorf("internal/gen/groups/systemd-syscall-filter.txt differs from `systemd-analyze syscall-filter`: run make update-groups generate")
	}
}

// withoutUnlisted cuts systemd-analyze's closing "# Unlisted System Calls"
// block: the syscalls the running kernel has that no group lists. It
// depends on the kernel, not on systemd (a 6.18 kernel lists mseal,
// listmount, ...), and the generator skips it like every comment line.
func withoutUnlisted(b []byte) []byte {
	if i := bytes.Index(b, []byte("\n# Unlisted System Calls")); i >= 0 {
		return b[:i+1]
	}
	return b
}
