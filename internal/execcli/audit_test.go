package execcli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sysrestrict/sysrestrict/internal/stampcli"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
	"github.com/sysrestrict/sysrestrict/pkg/profile"
)

// stamp runs sysrestrict-stamp -q with args, and fails the test unless
// it succeeds.
func stamp(t *testing.T, args ...string) {
	t.Helper()
	var out bytes.Buffer
	if code := stampcli.Run(append([]string{"sysrestrict-stamp", "-q"}, args...), &out, &out); code != 0 {
		t.Fatalf("sysrestrict-stamp %v = %d: %s", args, code, out.String())
	}
}

func noteSet(t *testing.T, path string) bitmap.Set {
	t.Helper()
	f, err := elfnote.ReadFile(path)
	if err != nil || !f.Stamped {
		t.Fatalf("%s: %+v, %v; want a note", path, f, err)
	}
	return f.Set
}

// TestAuditMode: --audit through the loader and sysrestrict-supervise.
// A restricted syscall runs (the program reports its result), is named on
// stderr at exit and merged into FILE; the loader's own exec of PROGRAM is
// not recorded, the program's exec is; the exit status is PROGRAM's.
func TestAuditMode(t *testing.T) {
	need(t)
	dir := t.TempDir()
	prof := filepath.Join(dir, "audit.json")

	r := load(t, "--audit", prof, "--deny", "ptrace", victim, "ptrace")
	wantExit(t, "--audit --deny ptrace victim ptrace", r, 0, "ptrace: ret 0 errno 0\n")
	for _, want := range []string{
		"sysrestrict-exec: --audit " + victim + ": 1 call of 1 restricted syscall let through",
		"  ptrace (101, x86_64): 1 call by " + victim + " (pid ",
		"): restricted by --deny; enforced: kill\n",
		"sysrestrict-exec: recorded in " + prof + "; drop from --deny what it restricted\n",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("--audit: stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	p, err := profile.ReadFile(prof)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Executables) != 1 || p.Executables[0].Path != victim || p.Executables[0].BuildID == "" ||
		len(p.Executables[0].Syscalls) != 1 || p.Executables[0].Syscalls[0].Name != "ptrace" {
		t.Errorf("profile after --audit = %+v, want the victim's ptrace", p.Executables)
	}

	// The note restricts exec: the loader's exec of PROGRAM passes
	// unrecorded; PROGRAM's own execve runs /bin/true, and is recorded.
	exe := stamped(t, false, "execve", "execveat")
	r = load(t, "--audit", prof, exe, "execve")
	wantExit(t, "--audit, exec restricted", r, 0, "")
	if !strings.Contains(r.stderr, "  execve (59, x86_64): 1 call by "+exe) || strings.Contains(r.stderr, "execveat (322") {
		t.Errorf("--audit, exec restricted: stderr %q, want the victim's execve and no execveat", r.stderr)
	}
	p, err = profile.ReadFile(prof)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Runs) != 2 || p.Runs[1].Mode != profile.ModeAudit || p.Runs[1].Status != "exit 0" {
		t.Errorf("runs = %+v, want two audit runs merged", p.Runs)
	}
	var got []string
	for _, sc := range p.Syscalls() {
		got = append(got, sc.Name)
	}
	if strings.Join(got, ",") != "execve,ptrace" {
		t.Errorf("profile syscalls = %v, want execve,ptrace", got)
	}

	// A stamped action: enforced, ptrace would fail with EPERM; audited,
	// it runs, and the summary says what enforcing would do.
	act := filepath.Join(dir, "victim-eperm")
	copyFile(t, victim, act, 0o755)
	stamp(t, "--deny", "ptrace:EPERM,getppid", act)
	wantExit(t, "enforced, ptrace:EPERM", load(t, act, "ptrace"), 0, "ptrace: ret -1 errno 1\n")
	r = load(t, "--audit", prof, act, "ptrace")
	wantExit(t, "--audit, ptrace:EPERM", r, 0, "ptrace: ret 0 errno 0\n")
	if want := "restricted by the note; enforced: errno=EPERM (it fails, the program goes on)\n"; !strings.Contains(r.stderr, want) {
		t.Errorf("--audit of a stamped errno action: stderr %q, want %q", r.stderr, want)
	}

	// PROGRAM's status, and a run with no hit.
	r = load(t, "--audit", prof, "--deny", "ptrace", victim, "no-such-mode")
	wantExit(t, "--audit, PROGRAM exits 2", r, 2, "")
	if !strings.Contains(r.stderr, "no restricted syscall was made (the run is recorded in "+prof+")") {
		t.Errorf("--audit, no hit: stderr %q", r.stderr)
	}
}

// TestAuditRefuses: what --audit refuses, before PROGRAM runs (the
// victim's marker file is never made).
func TestAuditRefuses(t *testing.T) {
	need(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"version":2,"executables":[`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		status int
		stderr string
	}{
		{"no note", []string{"--audit", filepath.Join(dir, "p.json"), victim}, ExitCannotRun, "nothing to audit: no sysrestrict note and no --deny"},
		{"bad profile", []string{"--audit", bad, "--deny", "ptrace", victim}, ExitUsage, "--audit " + bad + ": malformed profile at byte 28 (line 1, column 29): unexpected end of input"},
		{"unwritable", []string{"--audit", filepath.Join(dir, "no/such/dir/p.json"), "--deny", "ptrace", victim}, ExitUsage, "cannot write the profile: cannot create a file in"},
		{"a directory", []string{"--audit", dir, "--deny", "ptrace", victim}, ExitUsage, "is a directory"},
		{"--action", []string{"--audit", filepath.Join(dir, "p.json"), "--action", "log", "--deny", "ptrace", victim}, ExitUsage, "--audit takes no --action"},
		{"--explain", []string{"--explain", "--audit", filepath.Join(dir, "p.json"), "--deny", "ptrace", victim}, ExitUsage, "--audit and --explain cannot be used together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := load(t, append(tt.args, "marker", marker)...)
			if r.status != tt.status || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("%v: %v, want %d saying %q", tt.args, r, tt.status, tt.stderr)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Errorf("%v: the program ran", tt.args)
				os.Remove(marker)
			}
		})
	}
	if b, _ := os.ReadFile(bad); string(b) != `{"version":2,"executables":[` {
		t.Errorf("the malformed profile was changed: %q", b)
	}
}

// TestAuditThenEnforce: what --audit records, added with --allow-profile,
// lets the same run pass enforced.
func TestAuditThenEnforce(t *testing.T) {
	need(t)
	dir := t.TempDir()
	exe := filepath.Join(dir, "victim")
	copyFile(t, victim, exe, 0o755)
	learned, audited := filepath.Join(dir, "learned.json"), filepath.Join(dir, "audit.json")
	wantExit(t, "--learn", load(t, "--learn", learned, exe, "getppid"), 0, "ok\n")
	stamp(t, "--allow-profile", learned, exe)
	// ptrace is not in the profile: killed.
	wantSIGSYS(t, "enforced, ptrace", load(t, exe, "ptrace"))
	r := load(t, "--audit", audited, exe, "ptrace")
	wantExit(t, "--audit, ptrace", r, 0, "ptrace: ret 0 errno 0\n")
	if !strings.Contains(r.stderr, "sysrestrict-stamp --replace --allow-profile PROFILE --allow-profile "+audited+" "+exe) {
		t.Errorf("--audit stderr %q, want the stamp that allows the hits", r.stderr)
	}
	stamp(t, "--replace", "--allow-profile", learned, "--allow-profile", audited, exe)
	wantExit(t, "enforced after the audit, ptrace", load(t, exe, "ptrace"), 0, "ptrace: ret 0 errno 0\n")
	set := noteSet(t, exe)
	if !set.DenyBeyond() || !set.Has(bitmap.X86_64.Lookup("socket")[0]) {
		t.Errorf("note after re-stamping = %v, want an allowlist that still restricts socket", set)
	}
}

// TestAuditSupervisorKilled: the audited program kills its supervisor
// (it may: same user, and Landlock's domain scopes ptrace, not signals).
// Nothing is loosened: with the listener gone the kernel fails the
// restricted syscalls with ENOSYS without running them (the file to
// unlink is still there); the caller sees the supervisor die, and no
// profile is written.
func TestAuditSupervisorKilled(t *testing.T) {
	need(t)
	dir := t.TempDir()
	prof, result, doomed := filepath.Join(dir, "p.json"), filepath.Join(dir, "result"), filepath.Join(dir, "doomed")
	if err := os.WriteFile(doomed, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := load(t, "--audit", prof, "--deny", "unlink", auditEscape, "orphan", result, doomed)
	if r.signal != syscall.SIGKILL {
		t.Errorf("--audit, supervisor killed by PROGRAM: %v, want the loader killed by SIGKILL", r)
	}
	var got []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(result); err == nil && bytes.HasSuffix(b, []byte("\n")) && bytes.Count(b, []byte("\n")) == 3 {
			got = b
			break
		}
	}
	if want := "reparented: yes\nunlink: ret -1 errno 38\nvictim: still there\n"; string(got) != want {
		t.Errorf("the orphaned program reports %q, want %q (ENOSYS, nothing unlinked)", got, want)
	}
	if _, err := os.Stat(prof); err == nil {
		t.Errorf("%s was written by a supervisor that was killed", prof)
	}
}

// TestAuditEmbedded: an embedded stamp installs its own filter at
// start-up, which no audit can loosen: --audit refuses it (126), says
// what to audit instead, and runs nothing.
func TestAuditEmbedded(t *testing.T) {
	need(t)
	dir := t.TempDir()
	exe, marker := filepath.Join(dir, "victim"), filepath.Join(dir, "ran")
	copyFile(t, victim, exe, 0o755)
	set, err := bitmap.Parse(bitmap.X86_64, "ptrace")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := elfnote.Stamp(exe, set, elfnote.Options{Replace: true, Embed: true}); err != nil {
		t.Fatalf("stamping %s with --embed: %v", exe, err)
	}
	r := load(t, "--audit", filepath.Join(dir, "p.json"), exe, "marker", marker)
	if r.status != ExitCannotRun || !strings.Contains(r.stderr, "embedded (sysrestrict-stamp --embed)") || !strings.Contains(r.stderr, "sysrestrict-stamp --remove -o "+exe+".audit "+exe) {
		t.Errorf("--audit on an embedded stamp: %v, want %d saying what to audit instead", r, ExitCannotRun)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("--audit ran an embedded program")
	}
}
