package stampcli

import (
	"path/filepath"
	"testing"
)

// TestWarningsFitTheStamp (issue 14): the stamper's stderr, exactly. An
// allowlist that allows openat gets no advice to restrict @open; --deny
// @privileged none to restrict @open for open_by_handle_at; a syscall
// denied on top of an allowlist that allows its sibling gets the sibling
// warning; an allowlist that allows io_uring_setup is told what io_uring
// does past it.
func TestWarningsFitTheStamp(t *testing.T) {
	prof := filepath.Join(t.TempDir(), "p.json")
	writeProfile(t, prof, "read", "write", "close", "openat", "fstat", "execveat")
	uring := filepath.Join(t.TempDir(), "uring.json")
	writeProfile(t, uring, "read", "write", "openat", "io_uring_setup", "io_uring_enter")
	tests := []struct {
		args []string
		want string // stderr after "sysrestrict-stamp: warning: FILE: "; "" for none
	}{
		{[]string{"--allow-profile", prof}, ""},
		{[]string{"--allow", "read,write,openat"}, ""},
		{[]string{"--deny", "@privileged"}, ""},
		{[]string{"--allow-profile", prof, "--deny", "execve"}, "execve is restricted but execveat is not: a program can do the same with execveat; restrict @exec to cover them all"},
		{[]string{"--allow-profile", uring}, "the allowlist allows io_uring_setup, and io_uring operations do the work of 64 syscalls it restricts (open, close, stat, fstat and 60 more) with no syscall of their own; restrict @io-uring too, unless the program needs io_uring"},
		{[]string{"--deny", "open_by_handle_at,open"}, "open is restricted but creat, openat, openat2 are not: a program can do the same with creat, openat or openat2; restrict @open to cover them all"},
	}
	for _, tt := range tests {
		f := fixture(t, "x86_64-pie")
		code, _, stderr := stampRun(t, append(tt.args, f)...)
		want := ""
		if tt.want != "" {
			want = "sysrestrict-stamp: warning: " + f + ": " + tt.want + "\n"
		}
		if tt.want != "" && len(tt.args) > 1 && tt.args[0] == "--deny" {
			// --deny open also warns about io_uring, which opens files
			// (but not by handle).
			want += "sysrestrict-stamp: warning: " + f + ": open is restricted but io_uring_setup is not: io_uring operations do the same with no syscall of their own; restrict @io-uring too\n"
		}
		if code != 0 || stderr != want {
			t.Errorf("%v: %d, stderr %q; want 0, %q", tt.args, code, stderr, want)
		}
	}
}
