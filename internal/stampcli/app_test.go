package stampcli

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sysrestrict/sysrestrict/internal/identity"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
	"github.com/sysrestrict/sysrestrict/pkg/profile"
)

// stampRun runs the command with args and returns its exit status, stdout
// and stderr.
func stampRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Run(append([]string{"sysrestrict-stamp"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// fixture copies testdata/elf/name into a temporary directory.
func fixture(t *testing.T, name string) string {
	t.Helper()
	src, err := os.Open(filepath.Join("../../testdata/elf", name))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst := filepath.Join(t.TempDir(), name)
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, src); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

func readSet(t *testing.T, name string) (bitmap.Set, bool) {
	t.Helper()
	f, err := elfnote.ReadFile(name)
	if err != nil {
		t.Fatalf("elfnote.ReadFile(%s): %v", name, err)
	}
	return f.Set, f.Stamped
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestListSyscalls(t *testing.T) {
	tests := []struct {
		arch, want string
	}{
		{"aarch64", "221 execve"},
		{"x86_64", "59 execve"},
		{"arm64", "221 execve"},
		{"i386", "11 execve"},
		{"x32", "520 execve"},
	}
	for _, tt := range tests {
		code, out, errOut := stampRun(t, "--list-syscalls", "--arch", tt.arch)
		if code != 0 {
			t.Fatalf("--list-syscalls --arch %s = %d, %s", tt.arch, code, errOut)
		}
		found := false
		for _, line := range strings.Split(out, "\n") {
			found = found || strings.HasPrefix(strings.TrimSpace(line), tt.want)
		}
		if !found {
			t.Errorf("--list-syscalls --arch %s has no line %q", tt.arch, tt.want)
		}
	}
	if code, _, errOut := stampRun(t, "--list-syscalls", "--arch", "vax"); code != ExitUsage || !strings.Contains(errOut, "vax") {
		t.Errorf("--arch vax = %d, %q, want %d naming vax", code, errOut, ExitUsage)
	}
}

func TestListGroups(t *testing.T) {
	code, out, _ := stampRun(t, "--list-groups")
	if code != 0 {
		t.Fatalf("--list-groups = %d", code)
	}
	for _, g := range bitmap.Groups() {
		if !strings.Contains(out, g.Name+"  (") {
			t.Errorf("--list-groups does not show %s", g.Name)
		}
	}
	for _, member := range []string{"execveat", "ptrace", "io_uring_setup", "@basic-io"} {
		if !strings.Contains(out, member) {
			t.Errorf("--list-groups does not show member %s", member)
		}
	}
	code, out, _ = stampRun(t, "--list-groups", "--arch", "aarch64")
	if code != 0 || !strings.Contains(out, "execve=221") {
		t.Errorf("--list-groups --arch aarch64 = %d, no execve=221 in it", code)
	}
}

func TestStampShowCheckRemove(t *testing.T) {
	bin := fixture(t, "x86_64-pie")
	orig := mustRead(t, bin)

	code, out, errOut := stampRun(t, "--deny", "execve,ptrace", bin)
	if code != 0 {
		t.Fatalf("--deny execve,ptrace = %d, %s", code, errOut)
	}
	if want := bin + ": +2 restricted (execve, ptrace); 2 total\n"; out != want {
		t.Errorf("stamp output = %q, want %q", out, want)
	}
	if !strings.Contains(errOut, "warning") || !strings.Contains(errOut, "execveat") {
		t.Errorf("stamp stderr = %q, want the execveat sibling warning", errOut)
	}
	if s, ok := readSet(t, bin); !ok || s.String() != "{execve,ptrace}" {
		t.Errorf("after stamp, note = %v, %v", s, ok)
	}

	// Restrictions accumulate.
	code, out, _ = stampRun(t, "-q", "--deny", "execveat", bin)
	if code != 0 || out != "" {
		t.Errorf("-q --deny execveat = %d, %q, want 0 and no output", code, out)
	}
	if s, _ := readSet(t, bin); s.String() != "{execve,ptrace,execveat}" {
		t.Errorf("after second stamp, note = %v, want the union", s)
	}

	// The same stamp again changes nothing.
	before := mustRead(t, bin)
	code, out, _ = stampRun(t, "--deny", "execve", bin)
	if code != 0 || !strings.Contains(out, "unchanged") || !bytes.Equal(before, mustRead(t, bin)) {
		t.Errorf("restamp = %d, %q, file changed: %v", code, out, !bytes.Equal(before, mustRead(t, bin)))
	}

	code, out, _ = stampRun(t, "--show", bin)
	if code != 0 || !strings.Contains(out, "3 restricted: execve, ptrace, execveat") {
		t.Errorf("--show = %d, %q", code, out)
	}
	code, out, _ = stampRun(t, "--show", "--json", bin)
	var rec fileJSON
	if err := json.Unmarshal([]byte(out), &rec); code != 0 || err != nil || len(rec.Restricted) != 3 || rec.ABI != "x86_64" {
		t.Errorf("--show --json = %d, %q (%v)", code, out, err)
	}

	if code, _, _ := stampRun(t, "--check", "--deny", "@exec", bin); code != 0 {
		t.Errorf("--check --deny @exec = %d, want 0", code)
	}
	if code, _, errOut := stampRun(t, "--check", "--deny", "@exec,mount", bin); code != ExitFailed || !strings.Contains(errOut, "mount") {
		t.Errorf("--check --deny @exec,mount = %d, %q, want 1 naming mount", code, errOut)
	}

	// --replace may loosen.
	if code, _, errOut := stampRun(t, "--replace", "--deny", "mount", bin); code != 0 {
		t.Fatalf("--replace = %d, %s", code, errOut)
	}
	if s, _ := readSet(t, bin); s.String() != "{mount}" {
		t.Errorf("after --replace, note = %v, want {mount}", s)
	}

	if code, _, errOut := stampRun(t, "--remove", bin); code != 0 {
		t.Fatalf("--remove = %d, %s", code, errOut)
	}
	if _, stamped := readSet(t, bin); stamped {
		t.Errorf("after --remove, still stamped")
	}
	if !bytes.Equal(orig, mustRead(t, bin)) {
		t.Logf("after --remove, %s is not byte-identical to the original (allowed, but note it)", bin)
	}
	if code, _, _ := stampRun(t, "--check", "--deny", "execve", bin); code != ExitFailed {
		t.Errorf("--check on an unstamped file = %d, want 1", code)
	}
}

func TestAllowlist(t *testing.T) {
	bin := fixture(t, "x86_64-pie")
	code, _, errOut := stampRun(t, "--allow", "read,write,openat", bin)
	if code != 0 {
		t.Fatalf("--allow = %d, %s", code, errOut)
	}
	s, _ := readSet(t, bin)
	if !s.DenyBeyond() || s.Has(0) || s.Has(231) || !s.Has(59) {
		t.Errorf("--allow read,write,openat gave %d restricted, DenyBeyond %v", s.Len(), s.DenyBeyond())
	}
	code, out, _ := stampRun(t, "--show", bin)
	if code != 0 || !strings.Contains(out, "allowlist") || !strings.Contains(out, "openat") {
		t.Errorf("--show of an allowlist = %q", out)
	}
	if code, _, _ := stampRun(t, "--check", "--allow", "read,write,openat,close", bin); code != 0 {
		t.Errorf("--check with a wider allowlist = %d, want 0", code)
	}
	if code, _, _ := stampRun(t, "--check", "--allow", "read", bin); code != ExitFailed {
		t.Errorf("--check with a narrower allowlist = %d, want 1", code)
	}
}

func TestUsageErrorsTouchNothing(t *testing.T) {
	bin := fixture(t, "x86_64-pie")
	aarch := fixture(t, "aarch64-pie")
	orig, origA := mustRead(t, bin), mustRead(t, aarch)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"typo", []string{"--deny", "exceve", bin}, "did you mean execve"},
		{"range", []string{"--deny", "600", bin}, "0..511"},
		{"no files", []string{"--deny", "execve"}, "no FILE"},
		{"nothing to do", []string{bin}, "nothing to do"},
		{"two modes", []string{"--show", "--remove", bin}, "cannot be combined"},
		{"output with two", []string{"--deny", "execve", "-o", "x", bin, aarch}, "exactly one"},
		{"remove with deny", []string{"--remove", "--deny", "execve", bin}, "--remove takes no"},
		{"unknown flag", []string{"--frobnicate", bin}, "frobnicate"},
		// The first file resolves, the second does not: neither is touched.
		{"aarch64 has no open", []string{"--deny", "open", bin, aarch}, "aarch64"},
		{"missing profile", []string{"--allow-profile", "/nonexistent.json", bin}, "nonexistent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := stampRun(t, tt.args...)
			if code != ExitUsage || !strings.Contains(errOut, tt.want) {
				t.Errorf("%v = %d, %q, want %d and %q", tt.args, code, errOut, ExitUsage, tt.want)
			}
			if !bytes.Equal(orig, mustRead(t, bin)) || !bytes.Equal(origA, mustRead(t, aarch)) {
				t.Errorf("%v changed a file", tt.args)
			}
		})
	}
}

func TestFailuresAreNamedAndOthersProcessed(t *testing.T) {
	bin := fixture(t, "x86_64-pie")
	notELF := filepath.Join(t.TempDir(), "script.sh")
	os.WriteFile(notELF, []byte("#!/bin/sh\necho hi\n"), 0o755)
	appended := fixture(t, "x86_64-appended")
	origApp := mustRead(t, appended)

	code, out, errOut := stampRun(t, "--deny", "ptrace", notELF, bin, appended, "/nonexistent/bin")
	if code != ExitFailed {
		t.Errorf("exit = %d, want %d", code, ExitFailed)
	}
	for _, name := range []string{notELF, appended, "/nonexistent/bin"} {
		if !strings.Contains(errOut, name) {
			t.Errorf("stderr does not name %s: %q", name, errOut)
		}
	}
	if !strings.Contains(out, bin+": +1 restricted (ptrace)") {
		t.Errorf("the good file was not stamped: %q", out)
	}
	if !bytes.Equal(origApp, mustRead(t, appended)) {
		t.Errorf("a file with appended data was changed")
	}
}

func TestDryRunAndOutput(t *testing.T) {
	bin := fixture(t, "x86_64-exec")
	orig := mustRead(t, bin)
	code, out, _ := stampRun(t, "--dry-run", "--deny", "ptrace", bin)
	if code != 0 || !strings.Contains(out, "dry run") || !bytes.Equal(orig, mustRead(t, bin)) {
		t.Errorf("--dry-run = %d, %q; file changed: %v", code, out, !bytes.Equal(orig, mustRead(t, bin)))
	}
	dst := filepath.Join(t.TempDir(), "out")
	code, out, errOut := stampRun(t, "-o", dst, "--deny", "ptrace", bin)
	if code != 0 || !strings.Contains(out, "-> "+dst) {
		t.Fatalf("-o = %d, %q, %s", code, out, errOut)
	}
	if !bytes.Equal(orig, mustRead(t, bin)) {
		t.Errorf("-o changed the input")
	}
	if s, ok := readSet(t, dst); !ok || s.String() != "{ptrace}" {
		t.Errorf("-o output note = %v, %v", s, ok)
	}
}

func TestUnknownABIByNumberOnly(t *testing.T) {
	bin := fixture(t, "s390x-pie")
	if code, _, errOut := stampRun(t, "--deny", "execve", bin); code != ExitUsage || !strings.Contains(errOut, "by number") {
		t.Errorf("--deny execve on s390x = %d, %q, want usage error suggesting numbers", code, errOut)
	}
	if code, _, errOut := stampRun(t, "--deny", "11,26", bin); code != 0 {
		t.Fatalf("--deny 11,26 on s390x = %d, %s", code, errOut)
	}
	if s, ok := readSet(t, bin); !ok || s.String() != "{11,26}" {
		t.Errorf("s390x note = %v, %v", s, ok)
	}
}

func TestHelpAndVersion(t *testing.T) {
	code, out, _ := stampRun(t, "--help")
	if code != 0 || !strings.Contains(out, "--deny") || !strings.Contains(out, "Exit status") {
		t.Errorf("--help = %d, %q", code, out)
	}
	code, out, _ = stampRun(t, "--version")
	if code != 0 || !strings.Contains(out, "sysrestrict-stamp version") {
		t.Errorf("--version = %d, %q", code, out)
	}
}

// profileID is what a profile records of the file at path, found at as.
func profileID(t *testing.T, path, as string) profile.ID {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	id, err := identity.Of(f, as)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestAllowProfile(t *testing.T) {
	bin := fixture(t, "x86_64-pie")
	aarch := fixture(t, "aarch64-pie")
	// Learned elsewhere (as /usr/bin/ls): the build ID says it is bin.
	ls := profileID(t, bin, "/usr/bin/ls")
	p := &profile.Profile{}
	for _, name := range []string{"read", "write", "openat", "getdents64"} {
		p.Add(ls, ls, bitmap.X86_64, bitmap.X86_64.Lookup(name)[0], 1)
	}
	prof := filepath.Join(t.TempDir(), "ls.json")
	if err := profile.WriteFile(prof, p); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := stampRun(t, "--allow-profile", prof, bin)
	if code != 0 || !strings.Contains(out, "numbers from 512 up restricted") {
		t.Fatalf("--allow-profile = %d, %q, %s", code, out, errOut)
	}
	s, _ := readSet(t, bin)
	for _, name := range []string{"read", "write", "openat", "getdents64", "exit_group"} {
		if s.Has(bitmap.X86_64.Lookup(name)[0]) {
			t.Errorf("--allow-profile restricts %s, which the profile (or @default) allows", name)
		}
	}
	if !s.Has(59) || !s.Has(41) || !s.DenyBeyond() {
		t.Errorf("--allow-profile leaves execve or socket allowed: %v", s)
	}
	// The profile records nothing of the aarch64 binary: a usage error,
	// naming what it does record, and nothing is touched.
	orig := mustRead(t, aarch)
	code, _, errOut = stampRun(t, "--allow-profile", prof, aarch)
	if code != ExitUsage || !strings.Contains(errOut, "it records: /usr/bin/ls (build ID "+ls.BuildID+")") ||
		!strings.Contains(errOut, "--profile-all-executables") || !bytes.Equal(orig, mustRead(t, aarch)) {
		t.Errorf("--allow-profile on aarch64 = %d, %q, want %d naming /usr/bin/ls, and the file untouched", code, errOut, ExitUsage)
	}
	// Taking every executable's, it records x86_64 only: still a usage
	// error, for the ABI.
	code, _, errOut = stampRun(t, "--allow-profile", prof, "--profile-all-executables", aarch)
	if code != ExitUsage || !strings.Contains(errOut, "no syscalls for this ABI") || !bytes.Equal(orig, mustRead(t, aarch)) {
		t.Errorf("--allow-profile --profile-all-executables on aarch64 = %d, %q, want %d for the ABI, and the file untouched", code, errOut, ExitUsage)
	}
	if code, _, errOut = stampRun(t, "--profile-all-executables", "--deny", "ptrace", bin); code != ExitUsage || !strings.Contains(errOut, "goes with --allow-profile") {
		t.Errorf("--profile-all-executables without --allow-profile = %d, %q", code, errOut)
	}
}

// TestAllowProfileOwnExecutable: a profile learned through a shell
// (bash -c "jq ... | sort") gives a stamp of jq jq's syscalls, not the
// shell's or sort's; one of the shell takes all of them, since the shell's
// filter is theirs too; --profile-all-executables takes all for any file.
func TestAllowProfileOwnExecutable(t *testing.T) {
	jq, sh, srt := fixture(t, "x86_64-pie"), fixture(t, "x86_64-static"), fixture(t, "x86_64-exec")
	shID, jqID, sortID := profileID(t, sh, "/usr/bin/bash"), profileID(t, jq, "/tmp/build/jq"), profileID(t, srt, "/usr/bin/sort")
	p := &profile.Profile{}
	add := func(id profile.ID, names ...string) {
		for _, name := range names {
			p.Add(id, shID, bitmap.X86_64, bitmap.X86_64.Lookup(name)[0], 1)
		}
	}
	add(shID, "read", "execve", "clone", "wait4", "dup2", "pipe2")
	add(jqID, "read", "write", "openat")
	add(sortID, "read", "write", "fstat")
	prof := filepath.Join(t.TempDir(), "p.json")
	if err := profile.WriteFile(prof, p); err != nil {
		t.Fatal(err)
	}
	allowed := func(name string) []string {
		s, _ := readSet(t, name)
		var a []string
		for _, n := range []string{"read", "write", "openat", "fstat", "execve", "clone", "wait4", "dup2", "pipe2"} {
			if !s.Has(bitmap.X86_64.Lookup(n)[0]) {
				a = append(a, n)
			}
		}
		return a
	}
	for _, tt := range []struct {
		file string
		args []string
		want []string
	}{
		{jq, nil, []string{"read", "write", "openat"}},
		{sh, nil, []string{"read", "write", "openat", "fstat", "execve", "clone", "wait4", "dup2", "pipe2"}},
		{srt, []string{"--profile-all-executables"}, []string{"read", "write", "openat", "fstat", "execve", "clone", "wait4", "dup2", "pipe2"}},
	} {
		code, _, errOut := stampRun(t, append(append([]string{"-q", "--allow-profile", prof}, tt.args...), tt.file)...)
		if code != 0 {
			t.Fatalf("--allow-profile %v %s = %d, %s", tt.args, filepath.Base(tt.file), code, errOut)
		}
		if got := allowed(tt.file); !slices.Equal(got, tt.want) {
			t.Errorf("--allow-profile %v %s allows %v, want %v", tt.args, filepath.Base(tt.file), got, tt.want)
		}
	}
}

// TestStripAfterStamp runs GNU strip and objcopy on stamped binaries, as a
// build that stamps too early would: the program is broken by them, and
// --check must say so rather than pass it (issue 3; docs/stamping.md).
func TestStripAfterStamp(t *testing.T) {
	for _, tool := range [][]string{{"strip"}, {"objcopy", "--remove-section", ".comment"}} {
		path, err := exec.LookPath(tool[0])
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not found; CI installs binutils", tool[0])
			}
			t.Skipf("%s not installed (binutils)", tool[0])
		}
		t.Run(tool[0], func(t *testing.T) {
			bin := fixture(t, "x86_64-pie")
			if code, _, errOut := stampRun(t, "-q", "--deny", "ptrace", bin); code != 0 {
				t.Fatalf("stamp = %d, %s", code, errOut)
			}
			out, err := exec.Command(path, append(tool[1:], bin)...).CombinedOutput()
			if err != nil {
				t.Fatalf("%v: %v\n%s", tool, err, out)
			}
			code, _, errOut := stampRun(t, "--check", "--deny", "ptrace", bin)
			if code != ExitFailed || !strings.Contains(errOut, "rewritten after stamping") {
				t.Errorf("--check after %s = %d, %q, want %d and the reason", tool[0], code, errOut, ExitFailed)
			}
			code, _, errOut = stampRun(t, "--check", bin)
			if code != ExitFailed || !strings.Contains(errOut, "rewritten after stamping") {
				t.Errorf("--check (no LIST) after %s = %d, %q, want %d and the reason", tool[0], code, errOut, ExitFailed)
			}
			if code, _, _ := stampRun(t, "--deny", "ptrace", bin); code != ExitFailed {
				t.Errorf("stamping after %s = %d, want %d", tool[0], code, ExitFailed)
			}
		})
	}
}

// TestRepairDamagedStamp drops the note's PT_NOTE entry, as a tool that
// rewrites program headers might: --check fails, the loader's reader
// refuses it, and stamping again repairs it with its restrictions kept.
func TestRepairDamagedStamp(t *testing.T) {
	bin := fixture(t, "x86_64-pie")
	if code, _, errOut := stampRun(t, "-q", "--deny", "ptrace", bin); code != 0 {
		t.Fatalf("stamp = %d, %s", code, errOut)
	}
	f, err := elfnote.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	b := mustRead(t, bin)
	phoff := binary.LittleEndian.Uint64(b[0x20:]) // e_phoff of an ELF64 LE file
	entry := b[phoff+uint64(f.Note.Prog)*56:][:56]
	clear(entry) // PT_NULL
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := stampRun(t, "--check", "--deny", "ptrace", bin); code != ExitFailed {
		t.Errorf("--check of a damaged stamp = %d, want %d", code, ExitFailed)
	}
	code, out, errOut := stampRun(t, "--deny", "execve", bin)
	if code != 0 || !strings.Contains(errOut, "repaired") {
		t.Fatalf("restamp = %d, %q, %q, want 0 and a repair note", code, out, errOut)
	}
	if s, ok := readSet(t, bin); !ok || !s.Has(101) || !s.Has(59) {
		t.Errorf("after repair, note = %v, %v, want ptrace and execve", s, ok)
	}
}
