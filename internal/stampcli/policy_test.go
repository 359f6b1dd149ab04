package stampcli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/profile"
)

// installTree makes, under a new directory, an install tree as a package
// build leaves it, and a policy file beside it (pkg.sysrestrict, with
// profiles/tool.json next to it). It returns the policy file and the root.
func installTree(t *testing.T) (pol, root string) {
	t.Helper()
	dir := t.TempDir()
	root = filepath.Join(dir, "pkg")
	for name, fixture := range map[string]string{
		"usr/bin/server":          "x86_64-pie",
		"usr/bin/tool":            "x86_64-static",
		"usr/bin/other":           "x86_64-exec",
		"usr/bin/arm-helper":      "aarch64-pie",
		"usr/libexec/app/a":       "x86_64-pie",
		"usr/libexec/app/b":       "go-pie",
		"usr/lib/libhello.so.1":   "libhello.so",
		"usr/lib/x/libhello.so.2": "libhello.so",
	} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		copyTo(t, fixture, p)
	}
	os.Chmod(filepath.Join(root, "usr/lib/libhello.so.1"), 0o644)
	os.WriteFile(filepath.Join(root, "usr/bin/script"), []byte("#!/bin/sh\necho hi\n"), 0o755)
	// Not followed: a symlink, whatever it points at.
	os.Symlink("server", filepath.Join(root, "usr/bin/server-link"))
	// One file, two names: stamped once, one inode afterwards.
	if err := os.Link(filepath.Join(root, "usr/libexec/app/a"), filepath.Join(root, "usr/libexec/app/c")); err != nil {
		t.Fatal(err)
	}

	p := &profile.Profile{}
	tool := profileID(t, filepath.Join(root, "usr/bin/tool"), "/usr/bin/tool")
	for _, name := range []string{"read", "write", "openat", "exit_group"} {
		p.Add(tool, tool, bitmap.X86_64, bitmap.X86_64.Lookup(name)[0], 1)
	}
	os.Mkdir(filepath.Join(dir, "profiles"), 0o755)
	if err := profile.WriteFile(filepath.Join(dir, "profiles/tool.json"), p); err != nil {
		t.Fatal(err)
	}
	pol = filepath.Join(dir, "pkg.sysrestrict")
	writePolicy(t, pol, `# GLOB (relative to DIR)   OPTIONS, or: skip
usr/bin/server             --deny @exec,@debug,@mount
usr/bin/tool               --allow-profile profiles/tool.json
usr/bin/arm-helper         --deny=@exec
usr/libexec/app/*          --deny @mount,@io-uring
usr/libexec/app/a          --deny ptrace
usr/lib/**/*.so*           skip
`)
	return pol, root
}

func writePolicy(t *testing.T, name, src string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

// treeSnapshot returns every entry under root by relative name: the
// bytes of a file (with its inode, so that links show), a symlink's target.
func treeSnapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.Type()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			m[rel] = "-> " + target
			return nil
		}
		m[rel] = string(mustRead(t, p))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func ino(t *testing.T, name string) uint64 {
	t.Helper()
	fi, err := os.Lstat(name)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

func TestPolicyStampAndCheck(t *testing.T) {
	pol, root := installTree(t)
	orig := treeSnapshot(t, root)

	code, stdout, stderr := stampRun(t, "--policy", pol, "--root", root)
	if code != 0 {
		t.Fatalf("--policy --root = %d\n%s%s", code, stdout, stderr)
	}
	// One line per target, in walk order, named by the root as given
	// joined with the file's path; the hard link is named on its line.
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		names = append(names, strings.TrimPrefix(line[:strings.Index(line, ":")], root+"/"))
	}
	if want := []string{"usr/bin/arm-helper", "usr/bin/server", "usr/bin/tool", "usr/libexec/app/a", "usr/libexec/app/b"}; !cmp.Equal(names, want) {
		t.Errorf("stamped %v, want %v, in that order:\n%s", names, want, stdout)
	}
	if !strings.Contains(stdout, "; hard links kept: "+filepath.Join(root, "usr/libexec/app/c")+"\n") {
		t.Errorf("the line of usr/libexec/app/a does not name its hard link:\n%s", stdout)
	}

	// Every target has what its rules ask, as repeated options would:
	// app/a has the options of both rules that match it.
	for name, args := range map[string][]string{
		"usr/bin/server":     {"--deny", "@exec,@debug,@mount"},
		"usr/bin/tool":       {"--allow", "read,write,openat,exit_group"},
		"usr/bin/arm-helper": {"--deny", "@exec"},
		"usr/libexec/app/a":  {"--deny", "@mount,@io-uring", "--deny", "ptrace"},
		"usr/libexec/app/c":  {"--deny", "@mount,@io-uring,ptrace"},
		"usr/libexec/app/b":  {"--deny", "@mount,@io-uring"},
	} {
		p := filepath.Join(root, name)
		if code, _, stderr := stampRun(t, append(append([]string{"--check"}, args...), p)...); code != 0 {
			t.Errorf("%s: --check %v = %d: %s", name, args, code, stderr)
		}
	}
	if s, _ := readSet(t, filepath.Join(root, "usr/libexec/app/b")); s.Has(bitmap.X86_64.Lookup("ptrace")[0]) {
		t.Errorf("usr/libexec/app/b restricts ptrace, which only app/a's rule asks: %v", s)
	}
	// What no rule stamps, or a skip rule excludes, is untouched; the
	// symlink is still a symlink.
	after := treeSnapshot(t, root)
	for _, name := range []string{"usr/bin/other", "usr/bin/script", "usr/bin/server-link", "usr/lib/libhello.so.1", "usr/lib/x/libhello.so.2"} {
		if after[name] != orig[name] {
			t.Errorf("%s changed; no rule stamps it", name)
		}
	}
	a, c := filepath.Join(root, "usr/libexec/app/a"), filepath.Join(root, "usr/libexec/app/c")
	if ino(t, a) != ino(t, c) || after["usr/libexec/app/a"] != after["usr/libexec/app/c"] {
		t.Errorf("the hard links a and c are no longer one file")
	}

	// The gate: everything matched carries what its rules ask.
	if code, stdout, stderr := stampRun(t, "--check", "--policy", pol, "--root", root); code != 0 || strings.Count(stdout, ": ok\n") != 5 {
		t.Errorf("--check --policy = %d\n%s%s", code, stdout, stderr)
	}
	// --strict names every executable ELF file no rule covers (not the
	// script, not the skipped libraries, not the symlink).
	code, stdout, stderr = stampRun(t, "--check", "--strict", "--policy", pol, "--root", root)
	if want := "sysrestrict-stamp: " + filepath.Join(root, "usr/bin/other") + ": no rule covers this executable ELF file (--strict): give it a rule in " + pol + ", or a skip rule\n"; code != ExitFailed || stderr != want {
		t.Errorf("--check --strict = %d, stderr %q, want %d and\n%q", code, stderr, ExitFailed, want)
	}
	if strings.Count(stdout, ": ok\n") != 5 {
		t.Errorf("--check --strict: the other files are still checked: %q", stdout)
	}

	// A rule that asks for more than a file carries fails the gate,
	// naming the file and what it lacks; the others still pass.
	src, _ := os.ReadFile(pol)
	writePolicy(t, pol, string(src)+"usr/bin/server --deny kexec_load\n")
	code, stdout, stderr = stampRun(t, "--check", "--policy", pol, "--root", root)
	if code != ExitFailed || !strings.Contains(stderr, filepath.Join(root, "usr/bin/server")+": does not restrict kexec_load") || strings.Count(stdout, ": ok\n") != 4 {
		t.Errorf("--check with a rule the file does not meet = %d\n%s%s", code, stdout, stderr)
	}
	// Stamping again adds it, and only it.
	code, stdout, _ = stampRun(t, "--policy", pol, "--root", root)
	if code != 0 || !strings.Contains(stdout, "server: +1 restricted (kexec_load)") || strings.Count(stdout, ": unchanged;") != 4 {
		t.Errorf("restamp = %d:\n%s", code, stdout)
	}
}

// TestPolicyJSONAndDryRun: --json gives one record per target in walk
// order, with the hard links; --dry-run writes nothing; --show lists the
// targets.
func TestPolicyJSONAndDryRun(t *testing.T) {
	pol, root := installTree(t)
	orig := treeSnapshot(t, root)
	code, stdout, stderr := stampRun(t, "--policy", pol, "--root", root, "--dry-run", "--json")
	if code != 0 {
		t.Fatalf("--dry-run --json = %d: %s", code, stderr)
	}
	if !cmp.Equal(orig, treeSnapshot(t, root)) {
		t.Errorf("--dry-run changed the tree")
	}
	var recs []fileJSON
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var r fileJSON
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		recs = append(recs, r)
	}
	if len(recs) != 5 || recs[3].File != filepath.Join(root, "usr/libexec/app/a") || !cmp.Equal(recs[3].Links, []string{filepath.Join(root, "usr/libexec/app/c")}) || !recs[3].DryRun {
		t.Errorf("--json records = %+v", recs)
	}
	code, stdout, _ = stampRun(t, "--show", "--policy", pol, "--root", root)
	if code != 0 || strings.Count(stdout, "not stamped") != 5 {
		t.Errorf("--show --policy = %d:\n%s", code, stdout)
	}
}

// TestPolicyUsageErrors: every error in the policy file, or in what its
// rules name, is a usage error (2) that names the policy file and line,
// and touches no file, the good rules' files included.
func TestPolicyUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name, rules string // appended to installTree's policy
		args        []string
		want        string // in stderr
	}{
		{"typo", "usr/bin/other --deny exceve", nil,
			`pkg.sysrestrict:8: ROOT/usr/bin/other (x86_64): --deny: "exceve": no syscall of that name on x86_64 (sysrestrict-stamp --list-syscalls --arch x86_64 lists them); did you mean execve?`},
		{"for one ABI", "usr/bin/* --deny open", nil, "pkg.sysrestrict:8: ROOT/usr/bin/arm-helper (aarch64): --deny:"},
		{"number", "usr/bin/other --allow 600", nil, "pkg.sysrestrict:8: ROOT/usr/bin/other (x86_64): --allow:"},
		{"missing profile", "usr/bin/other --allow-profile profiles/none.json", nil, "pkg.sysrestrict:8: --allow-profile DIR/profiles/none.json: open DIR/profiles/none.json: no such file"},
		{"output", "usr/bin/other -o x", nil, "pkg.sysrestrict:8: -o applies to a whole run, not to one file"},
		{"output=", "usr/bin/other --deny ptrace --output=x", nil, "pkg.sysrestrict:8: --output=x applies to a whole run"},
		{"-o=", "usr/bin/other -o=x", nil, "pkg.sysrestrict:8: -o=x applies to a whole run"},
		{"three dashes", "usr/bin/other ---remove", nil, "pkg.sysrestrict:8: ---remove: unknown option"},
		{"jobs", "usr/bin/other -j4", nil, "pkg.sysrestrict:8: -j4: unknown option"},
		{"root", "usr/bin/other --root=/", nil, "pkg.sysrestrict:8: --root=/ is not for a policy file"},
		{"remove", "usr/bin/other --remove", nil, "pkg.sysrestrict:8: --remove applies to a whole run"},
		{"json", "usr/bin/other --deny ptrace --json", nil, "pkg.sysrestrict:8: --json applies to a whole run"},
		{"nested policy", "usr/bin/other --policy x", nil, "pkg.sysrestrict:8: --policy is not for a policy file"},
		{"unknown", "usr/bin/other --frobnicate", nil, "pkg.sysrestrict:8: --frobnicate: unknown option"},
		{"not an option", "usr/bin/other ptrace", nil, `pkg.sysrestrict:8: "ptrace" is not an option`},
		{"all executables alone", "usr/bin/other --profile-all-executables", nil, "pkg.sysrestrict:8: --profile-all-executables goes with --allow-profile in the same rule"},
		{"another's profile", "usr/bin/other --allow-profile profiles/tool.json", nil,
			"pkg.sysrestrict:8: ROOT/usr/bin/other (x86_64): --allow-profile DIR/profiles/tool.json: profile has no syscalls of this executable: nothing recorded for ROOT/usr/bin/other (build ID gnu:"},
		{"no value", "usr/bin/other --deny", nil, "pkg.sysrestrict:8: --deny needs a value"},
		{"value", "usr/bin/other --replace=yes", nil, "pkg.sysrestrict:8: --replace takes no value"},
		{"empty", "usr/bin/other --deny ''", nil, "pkg.sysrestrict:8: ROOT/usr/bin/other (x86_64): --deny: "},
		{"syntax", "usr/bin/other --deny 'ptrace", nil, "pkg.sysrestrict:8: unterminated single quote"},
		{"escape", "../etc/x --deny ptrace", nil, `pkg.sysrestrict:8: ../etc/x: ".." is not allowed in a glob`},
		{"absolute", "/usr/bin/other --deny ptrace", nil, "pkg.sysrestrict:8: /usr/bin/other: a glob is relative to the root"},
		{"no match", "usr/sbin/* --deny ptrace\nusr/bin/script --deny ptrace\nusr/bin/server-link --deny ptrace", nil,
			"sysrestrict-stamp: pkg.sysrestrict:8: usr/sbin/* matches no regular ELF file under the root (symlinks are not followed)\n" +
				"sysrestrict-stamp: pkg.sysrestrict:9: usr/bin/script matches no regular ELF file under the root (symlinks are not followed)\n" +
				"sysrestrict-stamp: pkg.sysrestrict:10: usr/bin/server-link matches no"},
		{"no match in check", "usr/sbin/* --deny ptrace", []string{"--check"}, "pkg.sysrestrict:8: usr/sbin/* matches no regular ELF file"},
		{"FILE too", "", []string{"ROOT/usr/bin/other"}, "--policy takes no FILE"},
		{"deny too", "", []string{"--deny", "ptrace"}, "go in the policy file's rules"},
		{"with remove", "", []string{"--remove"}, "--policy goes with stamping, --check or --show, not --remove"},
		{"with output", "", []string{"-o", "x"}, "not --output"},
		{"check dry-run", "", []string{"--check", "--dry-run"}, "--dry-run does not apply"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pol, root := installTree(t)
			dir := filepath.Dir(pol)
			src, _ := os.ReadFile(pol)
			writePolicy(t, pol, string(src)+tc.rules+"\n")
			orig := treeSnapshot(t, root)
			args := []string{"--policy", pol, "--root", root}
			for _, a := range tc.args {
				args = append(args, strings.ReplaceAll(a, "ROOT", root))
			}
			code, stdout, stderr := stampRun(t, args...)
			want := strings.NewReplacer("ROOT", root, "DIR", dir, "pkg.sysrestrict", pol).Replace(tc.want)
			if code != ExitUsage || !strings.Contains(stderr, want) {
				t.Errorf("%s = %d, stderr:\n%s\nwant %d and\n%s", tc.rules, code, stderr, ExitUsage, want)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if !cmp.Equal(orig, treeSnapshot(t, root)) {
				t.Errorf("a usage error changed the tree")
			}
		})
	}
	// Another's profile, taken whole: the rule says so.
	pol, root := installTree(t)
	src, _ := os.ReadFile(pol)
	writePolicy(t, pol, string(src)+"usr/bin/other --allow-profile profiles/tool.json --profile-all-executables\n")
	if code, _, stderr := stampRun(t, "-q", "--policy", pol, "--root", root); code != 0 {
		t.Errorf("a rule with --profile-all-executables = %d, %s", code, stderr)
	} else if s, _ := readSet(t, filepath.Join(root, "usr/bin/other")); s.Has(bitmap.X86_64.Lookup("openat")[0]) || !s.Has(bitmap.X86_64.Lookup("socket")[0]) {
		t.Errorf("usr/bin/other stamped from tool's profile, taken whole: %v, want openat allowed, socket restricted", s)
	}
	// Without the pair, or --strict alone.
	for _, args := range [][]string{{"--policy", "x"}, {"--root", "x"}, {"--strict", "x"}} {
		if code, _, stderr := stampRun(t, args...); code != ExitUsage || !strings.Contains(stderr, "--policy FILE and --root DIR go together") {
			t.Errorf("%v = %d, %q", args, code, stderr)
		}
	}
	if code, _, stderr := stampRun(t, "--policy", "/nonexistent.sysrestrict", "--root", t.TempDir()); code != ExitUsage || !strings.Contains(stderr, "/nonexistent.sysrestrict") {
		t.Errorf("a missing policy file = %d, %q", code, stderr)
	}
}

// TestPolicyStaysInTree tries to make a policy run write outside its root:
// a symlink to a file outside, a symlinked directory, a hard link to a file
// outside, the root itself a symlink. Only files under the root are
// written, and a name outside keeps the old file.
func TestPolicyStaysInTree(t *testing.T) {
	outside := t.TempDir()
	victim := filepath.Join(outside, "victim")
	copyTo(t, "x86_64-note-valid-flags", victim) // stamped: would be written in place
	os.Mkdir(filepath.Join(outside, "bin"), 0o755)
	copyTo(t, "x86_64-pie", filepath.Join(outside, "bin/x"))
	orig := treeSnapshot(t, outside)

	root := filepath.Join(t.TempDir(), "root")
	os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755)
	os.Symlink(victim, filepath.Join(root, "usr/bin/evil"))
	os.Symlink(filepath.Join(outside, "bin"), filepath.Join(root, "usr/lib"))
	if err := os.Link(victim, filepath.Join(root, "usr/bin/shared")); err != nil {
		t.Fatal(err)
	}
	pol := filepath.Join(t.TempDir(), "p")
	writePolicy(t, pol, "** --deny mount\n")
	code, stdout, stderr := stampRun(t, "--policy", pol, "--root", root)
	if want := filepath.Join(root, "usr/bin/shared") + ": +1 restricted (mount); 3 total and 512+: allows 509 (read, write, open, close, stat, fstat, lstat, poll, and 501 more)\n"; code != 0 || stdout != want {
		t.Errorf("stamp = %d, %q, %s; want only %q", code, stdout, stderr, want)
	}
	if !cmp.Equal(orig, treeSnapshot(t, outside)) {
		t.Errorf("a policy run changed files outside its root")
	}
	if s, _ := readSet(t, filepath.Join(root, "usr/bin/shared")); !s.Has(bitmap.X86_64.Lookup("mount")[0]) {
		t.Errorf("the file in the tree was not stamped")
	}
	// A rule that names only what is reached through a symlink matches
	// nothing.
	writePolicy(t, pol, "usr/lib/x --deny mount\n")
	if code, _, stderr := stampRun(t, "--policy", pol, "--root", root); code != ExitUsage || !strings.Contains(stderr, "matches no regular ELF file") {
		t.Errorf("a rule for a file behind a symlinked directory = %d, %q", code, stderr)
	}
	link := filepath.Join(t.TempDir(), "link")
	os.Symlink(root, link)
	if code, _, stderr := stampRun(t, "--policy", pol, "--root", link); code != ExitUsage || !strings.Contains(stderr, "a symlink") {
		t.Errorf("--root a symlink = %d, %q", code, stderr)
	}
}

// TestPolicyLeftovers: a file a killed stamper left in the tree is no
// target and nobody's hard link; the stamp of the file it was to replace
// removes it, and --check fails on one that is still there: the package
// would ship it.
func TestPolicyLeftovers(t *testing.T) {
	pol, root := installTree(t)
	a := filepath.Join(root, "usr/libexec/app/a")
	// As a stamper killed between linking a's new file to its temporary
	// name and the rename leaves it (elfnote's TestCrashAtEachStep), and
	// one that no stamp will remove.
	left := filepath.Join(root, "usr/libexec/app/.a.sysrestrict-new")
	stray := filepath.Join(root, "usr/bin/.gone.sysrestrict-new")
	for _, p := range []string{left, stray} {
		if err := os.Link(a, p); err != nil {
			t.Fatal(err)
		}
	}
	code, _, stderr := stampRun(t, "--check", "--policy", pol, "--root", root)
	for _, p := range []string{left, stray} {
		if !strings.Contains(stderr, "sysrestrict-stamp: "+p+": left by a sysrestrict-stamp that was killed while replacing a file: if none is running, remove it\n") {
			t.Errorf("--check does not name %s: %q", p, stderr)
		}
	}
	if code != ExitFailed {
		t.Errorf("--check = %d, want %d", code, ExitFailed)
	}
	code, stdout, stderr := stampRun(t, "--policy", pol, "--root", root)
	if code != ExitFailed || !strings.Contains(stderr, "removed "+left) || !strings.Contains(stderr, stray+": left by") || strings.Contains(stderr, left+": left by") {
		t.Errorf("stamp = %d\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Lstat(left); err == nil {
		t.Errorf("%s is still there", left)
	}
	if !strings.Contains(stdout, "; hard links kept: "+filepath.Join(root, "usr/libexec/app/c")+"\n") {
		t.Errorf("the leftover was taken for a hard link of a:\n%s", stdout)
	}
}

// TestPolicySameForEveryJ: the same tree, stamped with -j 1 and -j 8, gives
// the same output and the same files.
func TestPolicySameForEveryJ(t *testing.T) {
	var outs []string
	var trees []map[string]string
	for _, j := range []string{"1", "8"} {
		pol, root := installTree(t)
		code, stdout, stderr := stampRun(t, "-j", j, "--policy", pol, "--root", root)
		if code != 0 {
			t.Fatalf("-j %s: %d %s", j, code, stderr)
		}
		outs = append(outs, strings.ReplaceAll(stdout+stderr, root, "ROOT"))
		trees = append(trees, treeSnapshot(t, root))
	}
	if outs[0] != outs[1] {
		t.Errorf("-j 1 and -j 8 differ:\n%s\n----\n%s", outs[0], outs[1])
	}
	if !cmp.Equal(trees[0], trees[1]) {
		t.Errorf("-j 1 and -j 8 leave different trees")
	}
}

// TestPolicyDeterministic: the same files, in two trees at different
// paths, created in opposite orders, stamped at different times with
// different -j, give the same bytes and the same output; with
// SOURCE_DATE_EPOCH the same modification times too (SPEC section 2).
func TestPolicyDeterministic(t *testing.T) {
	type file struct {
		name string
		b    []byte
		mode fs.FileMode
	}
	var files []file
	for i, fx := range []string{"x86_64-pie", "aarch64-pie", "x86_64-exec", "go-pie", "arm-pie", "x86_64-static", "x86_64-pie-lld"} {
		b, err := os.ReadFile(filepath.Join(fixtureDir, fx))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, file{fmt.Sprintf("usr/bin/%d-%s", i, fx), b, 0o755})
	}
	for i, f := range machineELF(t, 8, 64<<10) {
		files = append(files, file{fmt.Sprintf("%s/m%d-%s", f.dir, i, filepath.Base(f.path)), f.b, f.mode})
	}
	pol := filepath.Join(t.TempDir(), "p.sysrestrict")
	writePolicy(t, pol, "usr/**  --deny @mount,@debug\nusr/bin/* --allow @system-service\n")
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")

	build := func(root string, reverse bool) {
		order := slices.Clone(files)
		if reverse {
			slices.Reverse(order)
		}
		for _, f := range order {
			p := filepath.Join(root, f.name)
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, f.b, f.mode); err != nil {
				t.Fatal(err)
			}
		}
		// One file under two names.
		if err := os.Link(filepath.Join(root, files[0].name), filepath.Join(root, "usr/bin/zz-link")); err != nil {
			t.Fatal(err)
		}
	}
	a := filepath.Join(t.TempDir(), "a")
	b := filepath.Join(t.TempDir(), "some", "deeper", "path", "b")
	build(a, false)
	build(b, true)
	_, outA, errA := stampRun(t, "-j", "1", "--policy", pol, "--root", a)
	time.Sleep(1100 * time.Millisecond) // another second of the clock
	_, outB, errB := stampRun(t, "-j", "4", "--policy", pol, "--root", b)
	if strings.ReplaceAll(outA+errA, a, "ROOT") != strings.ReplaceAll(outB+errB, b, "ROOT") {
		t.Errorf("the two trees' output differs:\n%s%s\n---\n%s%s", outA, errA, outB, errB)
	}
	if !strings.Contains(outA, "hard links kept") {
		t.Errorf("the stamp did not keep the hard link: %s", outA)
	}
	for _, f := range append(files, file{name: "usr/bin/zz-link"}) {
		pa, pb := filepath.Join(a, f.name), filepath.Join(b, f.name)
		if string(mustRead(t, pa)) != string(mustRead(t, pb)) {
			t.Errorf("%s differs between the two trees", f.name)
		}
		fa, _ := os.Stat(pa)
		fb, _ := os.Stat(pb)
		if !fa.ModTime().Equal(time.Unix(1700000000, 0)) || !fb.ModTime().Equal(fa.ModTime()) {
			t.Errorf("%s: modification times %v and %v, want SOURCE_DATE_EPOCH", f.name, fa.ModTime(), fb.ModTime())
		}
		if f.b != nil && string(mustRead(t, pa)) == string(f.b) {
			t.Errorf("%s was not stamped", f.name)
		}
	}
}

// TestPolicyTreeChangedUnderRun: a target replaced by a symlink after the
// walk, or moved under a symlinked directory, is not stamped: the write
// would follow the symlink out of the root.
func TestPolicyTreeChangedUnderRun(t *testing.T) {
	pol, root := installTree(t)
	pr, err := loadPolicy(pol, root, false, New(nil, nil).Flags)
	if err != nil {
		t.Fatal(err)
	}
	s := &settings{mode: modeStamp, workers: 1}
	jobOf := func(rel string) staged {
		for i, j := range pr.jobs {
			if j.name == filepath.Join(root, rel) {
				st, err := s.prepare(j, i)
				if err != nil {
					t.Fatal(err)
				}
				return st
			}
		}
		t.Fatalf("no job for %s", rel)
		return staged{}
	}
	server, app := jobOf("usr/bin/server"), jobOf("usr/libexec/app/b")

	outside := t.TempDir()
	copyTo(t, "x86_64-pie", filepath.Join(outside, "server"))
	copyTo(t, "go-pie", filepath.Join(outside, "b"))
	orig := treeSnapshot(t, outside)
	// Between the walk and the write, another program swaps the file for
	// a symlink, and a directory for a symlinked one.
	os.Remove(filepath.Join(root, "usr/bin/server"))
	os.Symlink(filepath.Join(outside, "server"), filepath.Join(root, "usr/bin/server"))
	os.Rename(filepath.Join(root, "usr/libexec/app"), filepath.Join(root, "usr/libexec/app.old"))
	os.Symlink(outside, filepath.Join(root, "usr/libexec/app"))

	for _, st := range []staged{server, app} {
		r := s.finish(st)
		if !errors.Is(r.err, errLeftTree) {
			t.Errorf("%s: stamped after the tree changed: %v", st.name, r.err)
		}
	}
	if !cmp.Equal(orig, treeSnapshot(t, outside)) {
		t.Errorf("files outside the root were written")
	}
}
