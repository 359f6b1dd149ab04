package stampcli

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// allowlisted returns a copy of x86_64-pie carrying an allowlist that
// allows read, write, close, openat and mmap (and @default).
func allowlisted(t *testing.T) string {
	t.Helper()
	f := fixture(t, "x86_64-pie")
	if code, _, stderr := stampRun(t, "-q", "--allow", "read,write,close,openat,mmap", f); code != 0 {
		t.Fatalf("stamping the allowlist: %d %s", code, stderr)
	}
	return f
}

func nr(name string) int { return bitmap.X86_64.Lookup(name)[0] }

// TestAllowOnAllowlistRefused (issue 14): --allow on a binary that carries
// an allowlist would intersect the two and restrict what the binary
// allows now: the stamper says so before doing anything, names what would
// be restricted and how to add to an allowlist instead, and exits 2 with
// no file touched, with -o, --dry-run and --json too, and whatever other
// files the run names.
func TestAllowOnAllowlistRefused(t *testing.T) {
	f := allowlisted(t)
	other := fixture(t, "x86_64-exec")
	before, otherBefore := mustRead(t, f), mustRead(t, other)
	want := "sysrestrict-stamp: " + f + ": carries an allowlist (it allows 48 syscalls), and an allowlist stamped on top of one intersects the two: " +
		"the result allows only what both allow. This one would newly restrict 4 that it allows now: read, write, close, openat. " +
		"To allow more syscalls: --permit LIST; to stamp this allowlist in its place: --replace; to narrow it so: --narrow\n" +
		"Run 'sysrestrict-stamp --help' for usage.\n"
	out := filepath.Join(t.TempDir(), "out")
	for _, extra := range [][]string{nil, {"--dry-run"}, {"--json"}, {"-o", out}, {"-j", "1"}} {
		args := append(append([]string{"--allow", "getpid"}, extra...), f)
		if extra == nil {
			args = append(args, other) // a second file, which is not touched either
		}
		code, stdout, stderr := stampRun(t, args...)
		if code != 2 || stdout != "" || stderr != want {
			t.Errorf("%v: %d, stdout %q, stderr %q; want 2, nothing, %q", args, code, stdout, stderr, want)
		}
		if !bytes.Equal(mustRead(t, f), before) || !bytes.Equal(mustRead(t, other), otherBefore) {
			t.Fatalf("%v touched a file", args)
		}
		if _, err := os.Stat(out); err == nil {
			t.Fatalf("%v wrote %s", args, out)
		}
	}
	// A profile on top of an allowlist: the same.
	prof := filepath.Join(t.TempDir(), "p.json")
	writeProfile(t, prof, "getpid", "read")
	code, _, stderr := stampRun(t, "--allow-profile", prof, f)
	if code != 2 || !strings.Contains(stderr, "This one would newly restrict 3 that it allows now: write, close, openat.") {
		t.Errorf("--allow-profile on the allowlist: %d, %q; want 2 naming write, close, openat", code, stderr)
	}
}

// writeProfile writes a profile of x86_64 syscalls by name.
func writeProfile(t *testing.T, name string, syscalls ...string) {
	t.Helper()
	var b strings.Builder
	b.WriteString(`{"version": 1, "syscalls": [`)
	for i, s := range syscalls {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`{"abi": "x86_64", "nr": ` + strconv.Itoa(nr(s)) + `, "name": "` + s + `", "count": 1, "executables": []}`)
	}
	b.WriteString(`], "runs": []}`)
	if err := os.WriteFile(name, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestAllowOnAllowlistConsent: what may follow the refusal. --narrow
// narrows (the line says what the binary still allows); --replace stamps
// the new allowlist instead; --deny of a syscall the allowlist allows is
// asked for by name and needs no consent; an allowlist that restricts
// nothing the binary allows is stamped, and says which of what it allows
// the binary's allowlist keeps restricted.
func TestAllowOnAllowlistConsent(t *testing.T) {
	f := allowlisted(t)
	code, stdout, stderr := stampRun(t, "--allow", "read,write,close,getpid", "--narrow", f)
	want := f + ": +1 restricted (openat); 465 total and 512+: allows 47 (read, write, close, mmap, mprotect, munmap, brk, rt_sigreturn, and 39 more)\n"
	if code != 0 || stdout != want || stderr != "" {
		t.Errorf("--narrow: %d, %q, %q; want 0, %q", code, stdout, stderr, want)
	}
	if s, _ := readSet(t, f); !s.Has(nr("openat")) || s.Has(nr("read")) {
		t.Errorf("after --narrow the note is %v, want openat restricted and read allowed", s)
	}

	f = allowlisted(t)
	code, stdout, _ = stampRun(t, "--replace", "--allow", "getpid,socket", f)
	if s, _ := readSet(t, f); code != 0 || !s.Has(nr("read")) || s.Has(nr("socket")) || !strings.Contains(stdout, "-1 lifted (socket)") {
		t.Errorf("--replace --allow getpid,socket: %d %q; note %v; want read restricted, socket allowed", code, stdout, s)
	}

	f = allowlisted(t)
	if code, stdout, stderr := stampRun(t, "--deny", "openat", f); code != 0 || !strings.HasPrefix(stdout, f+": +1 restricted (openat); ") || stderr != "" {
		t.Errorf("--deny openat on the allowlist: %d, %q, %q; want 0, +1 restricted (openat)", code, stdout, stderr)
	}

	f = allowlisted(t)
	code, stdout, stderr = stampRun(t, "--allow", "read,write,close,openat,mmap,socket,bind", f)
	wantOut := f + ": unchanged; 464 total and 512+: allows 48 (read, write, close, mmap, mprotect, munmap, brk, rt_sigreturn, and 40 more)\n"
	wantErr := "sysrestrict-stamp: warning: " + f + ": the allowlist asked for allows 2 syscalls that the file's allowlist restricts, and an allowlist on top of one allows only what both allow: socket, bind are still restricted; to allow them: --permit socket,bind\n"
	if code != 0 || stdout != wantOut || stderr != wantErr {
		t.Errorf("--allow of more than the allowlist allows: %d, %q, %q; want 0, %q, %q", code, stdout, stderr, wantOut, wantErr)
	}
}

// TestPermit: --permit lifts exactly the syscalls it names, from an
// allowlist or a deny list, and nothing else; with -o, --dry-run and
// --json; a syscall both permitted and denied is a usage error; a file
// with no note has nothing to lift and gets none.
func TestPermit(t *testing.T) {
	f := allowlisted(t)
	code, stdout, stderr := stampRun(t, "--permit", "socket,connect", f)
	want := f + ": -2 lifted (socket, connect); 462 total and 512+: allows 50 (read, write, close, mmap, mprotect, munmap, brk, rt_sigreturn, and 42 more)\n"
	if code != 0 || stdout != want || stderr != "" {
		t.Errorf("--permit socket,connect: %d, %q, %q; want 0, %q", code, stdout, stderr, want)
	}
	if s, _ := readSet(t, f); s.Has(nr("socket")) || s.Has(nr("connect")) || !s.Has(nr("bind")) || !s.DenyBeyond() {
		t.Errorf("after --permit the note is %v, want socket, connect allowed, bind and 512+ still restricted", s)
	}

	d := fixture(t, "x86_64-pie")
	stampRun(t, "-q", "--deny", "execve,execveat,ptrace", d)
	if code, stdout, _ := stampRun(t, "--permit", "ptrace", d); code != 0 || stdout != d+": -1 lifted (ptrace); 2 total\n" {
		t.Errorf("--permit ptrace on a deny list: %d, %q", code, stdout)
	}
	if s, _ := readSet(t, d); s.String() != "{execve,execveat}" {
		t.Errorf("after --permit ptrace the note is %v, want {execve,execveat}", s)
	}

	// -o, --dry-run, --json.
	f = allowlisted(t)
	before := mustRead(t, f)
	out := filepath.Join(t.TempDir(), "out")
	if code, _, _ := stampRun(t, "--permit", "socket", "-o", out, f); code != 0 || !bytes.Equal(mustRead(t, f), before) {
		t.Errorf("--permit -o: %d, or the input changed", code)
	}
	if s, _ := readSet(t, out); s.Has(nr("socket")) || !s.Has(nr("bind")) {
		t.Errorf("--permit -o: the output's note is %v, want socket lifted", s)
	}
	if code, stdout, _ := stampRun(t, "--permit", "socket", "--dry-run", f); code != 0 || !strings.HasSuffix(stdout, "(dry run: nothing written)\n") || !bytes.Equal(mustRead(t, f), before) {
		t.Errorf("--permit --dry-run: %d %q, or the file changed", code, stdout)
	}
	code, stdout, _ = stampRun(t, "--permit", "socket", "--json", f)
	if code != 0 || !strings.Contains(stdout, `"lifted":["socket"]`) || !strings.Contains(stdout, `"allowed":["read","write","close","mmap",`) {
		t.Errorf("--permit --json: %d %s; want lifted socket and the allowed names", code, stdout)
	}

	// Both asked for: no guess which wins.
	code, stdout, stderr = stampRun(t, "--deny", "ptrace,execve", "--permit", "ptrace", d)
	if want := "sysrestrict-stamp: " + d + " (x86_64): --permit ptrace and --deny name the same syscalls: say which you mean\nRun 'sysrestrict-stamp --help' for usage.\n"; code != 2 || stdout != "" || stderr != want {
		t.Errorf("--deny ptrace --permit ptrace: %d, %q, %q; want 2, %q", code, stdout, stderr, want)
	}

	// No note: nothing to lift, and no note added for it.
	u := fixture(t, "x86_64-pie")
	orig := mustRead(t, u)
	if code, stdout, _ := stampRun(t, "--permit", "ptrace", u); code != 0 || stdout != u+": not stamped, nothing to lift\n" || !bytes.Equal(mustRead(t, u), orig) {
		t.Errorf("--permit on an unstamped file: %d, %q, or it changed", code, stdout)
	}
	if code, stdout, _ := stampRun(t, "--permit", "ptrace", "--json", u); code != 0 || stdout != `{"file":"`+u+`","stamped":false,"changed":false}`+"\n" {
		t.Errorf("--permit --json on an unstamped file: %d, %q", code, stdout)
	}
}

// TestPermitCannotBeSmuggled: the ways --permit could loosen a binary
// unasked. It lifts no number from 512 up (an allowlist stays one); a
// file named like the option after -- is a file; --show, --remove take no
// --permit; and it cannot come from a LIST or a profile: a profile on top
// of an allowlist only intersects.
func TestPermitCannotBeSmuggled(t *testing.T) {
	f := allowlisted(t)
	before := mustRead(t, f)
	for _, args := range [][]string{
		{"--permit", "600", f},
		{"--permit", "0-600", f},
		{"--show", "--permit", "socket", f},
		{"--remove", "--permit", "socket", f},
	} {
		if code, _, _ := stampRun(t, args...); code != 2 {
			t.Errorf("%v = %d, want 2", args, code)
		}
	}
	if !bytes.Equal(mustRead(t, f), before) {
		t.Fatal("a refused --permit changed the file")
	}
	if code, _, _ := stampRun(t, "--deny", "ptrace", "--", "--permit=socket", f); code != 1 {
		t.Errorf("a FILE named --permit=socket after --: %d, want 1 (no such file; the other stamped)", code)
	}
	if s, _ := readSet(t, f); !s.Has(nr("socket")) || !s.Has(nr("ptrace")) || !s.DenyBeyond() {
		t.Errorf("after the attempts the note is %v, want socket still restricted, an allowlist", s)
	}
	prof := filepath.Join(t.TempDir(), "p.json")
	writeProfile(t, prof, "read", "write", "close", "openat", "mmap", "socket")
	stampRun(t, "-q", "--allow-profile", prof, f)
	if s, _ := readSet(t, f); !s.Has(nr("socket")) {
		t.Errorf("a profile that lists socket lifted it from the allowlist: %v", s)
	}
}

// TestPermitInPolicy: --permit and --narrow in a policy rule, stamped and
// checked; a rule's --permit of what another rule denies is an error that
// names both lines; an allowlist rule on an allowlisted file without
// --narrow names the rule's line.
func TestPermitInPolicy(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	os.MkdirAll(filepath.Join(root, "usr/bin"), 0o755)
	copyTo(t, "x86_64-pie", filepath.Join(root, "usr/bin/server"))
	server := filepath.Join(root, "usr/bin/server")
	stampRun(t, "-q", "--allow", "read,write,close,openat,mmap", server)
	pol := filepath.Join(t.TempDir(), "p")

	writePolicy(t, pol, "usr/bin/server --permit socket\n")
	if code, stdout, stderr := stampRun(t, "--policy", pol, "--root", root); code != 0 || !strings.HasPrefix(stdout, server+": -1 lifted (socket); ") {
		t.Errorf("policy --permit: %d, %q, %q", code, stdout, stderr)
	}
	writePolicy(t, pol, "usr/bin/server --allow read,write,close,openat,mmap --permit socket\n")
	if code, stdout, stderr := stampRun(t, "--check", "--policy", pol, "--root", root); code != 0 || stdout != server+": ok\n" {
		t.Errorf("policy --check with --permit: %d, %q, %q", code, stdout, stderr)
	}

	writePolicy(t, pol, "usr/bin/* --permit ptrace\nusr/bin/server --deny ptrace\n")
	code, _, stderr := stampRun(t, "--policy", pol, "--root", root)
	if want := "sysrestrict-stamp: " + pol + ":1: " + server + " (x86_64): --permit ptrace and --deny (" + pol + ":2) name the same syscalls: say which you mean\n"; code != 2 || stderr != want {
		t.Errorf("policy --permit and --deny of one syscall: %d, %q; want 2, %q", code, stderr, want)
	}

	writePolicy(t, pol, "# the profile of a new release\nusr/bin/server --allow read,write\n")
	code, _, stderr = stampRun(t, "--policy", pol, "--root", root)
	if !strings.HasPrefix(stderr, "sysrestrict-stamp: "+pol+":2: "+server+": carries an allowlist (it allows 49 syscalls)") || code != 2 {
		t.Errorf("policy --allow on an allowlist: %d, %q; want 2 naming %s:2", code, stderr, pol)
	}
	writePolicy(t, pol, "usr/bin/server --allow read,write --narrow\n")
	if code, stdout, stderr := stampRun(t, "--policy", pol, "--root", root); code != 0 || !strings.HasPrefix(stdout, server+": +3 restricted (close, socket, openat); ") {
		t.Errorf("policy --allow --narrow: %d, %q, %q", code, stdout, stderr)
	}
}
