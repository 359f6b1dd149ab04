//go:build linux

package embedtest

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
)

// TestSetuidNoNewPrivs shows what docs/embed.md ("setuid programs") says: an
// embedded setuid-root program run by nobody keeps the privileges the
// kernel granted at its exec (the stub sets no_new_privs after), but a
// setuid-root program it then executes gains none: the same program not
// embedded, having given up root, gets it back from the helper.
func TestSetuidNoNewPrivs(t *testing.T) {
	f := build(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root: to make setuid-root files and to run as nobody")
	}
	plain, embedded, helper := filepath.Join(f.dir, "plain"), filepath.Join(f.dir, "embedded"), filepath.Join(f.dir, "helper")
	b, err := os.ReadFile(f.escape)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{plain, embedded, helper} {
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	set, err := bitmap.Parse(bitmap.X86_64, "ptrace")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := elfnote.Stamp(embedded, set, elfnote.Options{Replace: true, Embed: true}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{plain, embedded, helper} {
		if err := os.Chmod(p, 0o755|os.ModeSetuid); err != nil {
			t.Fatal(err)
		}
	}
	euids := func(out string) []string {
		var e []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if f := strings.Fields(l); len(f) > 1 && f[0] == "euid" {
				e = append(e, f[1])
			}
		}
		return e
	}
	for _, tt := range []struct {
		name string
		prog string
		want []string // its euid, then the helper's
	}{
		{"not embedded", plain, []string{"0", "0"}},
		{"embedded", embedded, []string{"0", "65534"}},
	} {
		out, how := run(t, &syscall.Credential{Uid: 65534, Gid: 65534}, nil, tt.prog, "drop-exec", helper, "creds")
		if got := euids(out); how != "exit 0" || strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("%s, setuid-root, run by nobody, then executing a setuid-root helper: %s, euids %v, want exit 0, %v:\n%s", tt.name, how, got, tt.want, out)
		}
	}
}
