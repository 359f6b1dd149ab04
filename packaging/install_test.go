package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMakeInstall checks that make install puts every file where
// debhelper, rpm and man look for it, with the right modes, offline.
func TestMakeInstall(t *testing.T) {
	in := installTree(t)
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{
		{"usr/local/bin/sysrestrict-stamp", 0o755},
		{"usr/local/bin/sysrestrict-exec", 0o755},
		{"usr/local/bin/sysrestrict-supervise", 0o755},
		{"usr/local/bin/dh_sysrestrict", 0o755},
		{"usr/local/share/man/man1/sysrestrict-stamp.1", 0o644},
		{"usr/local/share/man/man1/sysrestrict-exec.1", 0o644},
		{"usr/local/share/man/man1/sysrestrict-supervise.1", 0o644},
		{"usr/local/share/man/man1/dh_sysrestrict.1", 0o644},
		{"usr/share/perl5/Debian/Debhelper/Sequence/sysrestrict.pm", 0o644},
		{"usr/lib/rpm/brp-sysrestrict", 0o755},
		{"usr/lib/rpm/macros.d/macros.sysrestrict", 0o644},
	} {
		fi, err := os.Stat(filepath.Join(in.destdir, f.path))
		if err != nil {
			t.Errorf("make install did not install %s: %v", f.path, err)
			continue
		}
		if fi.Mode().Perm() != f.mode {
			t.Errorf("%s: mode %v, want %v", f.path, fi.Mode().Perm(), f.mode)
		}
	}
	// The man pages installed are the committed ones (rendered from
	// --help; internal/gen/man checks they are current).
	for _, p := range []string{"sysrestrict-stamp.1", "sysrestrict-exec.1", "sysrestrict-supervise.1"} {
		if string(readFile(t, filepath.Join(in.destdir, "usr/local/share/man/man1", p))) != string(readFile(t, filepath.Join("..", "man", p))) {
			t.Errorf("installed %s differs from man/%s", p, p)
		}
	}
	macros := string(readFile(t, in.macros))
	if strings.Contains(macros, "@BINDIR@") || !strings.Contains(macros, "%__sysrestrict_stamp /usr/local/bin/sysrestrict-stamp\n") {
		t.Errorf("macros.sysrestrict does not name the installed stamper:\n%s", macros)
	}

	// The loader finds sysrestrict-supervise beside itself: --learn works
	// from the installed tree.
	prof := filepath.Join(t.TempDir(), "true.json")
	if r := run(t, "", nil, in.loader, "--learn", prof, "/bin/true"); !r.ok() {
		t.Errorf("installed sysrestrict-exec --learn: %v\n%s", r, r.stderr)
	}

	groff := need(t, "groff")
	cmd := exec.Command(groff, "-man", "-ww", "-z", filepath.Join(in.destdir, "usr/local/share/man/man1/dh_sysrestrict.1"))
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("groff -man -ww dh_sysrestrict.1: %v\n%s", err, out)
	}
}

// TestScriptsParse checks the syntax of the Perl and shell files, and
// dh_sysrestrict's POD, before anything runs them.
func TestScriptsParse(t *testing.T) {
	perl := need(t, "perl")
	need(t, "dh") // perl -c loads Debian::Debhelper::Dh_Lib
	mustRun(t, "", nil, perl, "-c", "debian/dh_sysrestrict")
	mustRun(t, "", nil, perl, "-c", "debian/sysrestrict.pm")
	r := mustRun(t, "", nil, need(t, "podchecker"), "debian/dh_sysrestrict")
	if strings.Contains(r.stderr+r.stdout, "WARNING") {
		t.Errorf("podchecker dh_sysrestrict: %s%s", r.stdout, r.stderr)
	}
	mustRun(t, "", nil, "sh", "-n", "rpm/brp-sysrestrict")
}
