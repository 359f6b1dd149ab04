//go:build linux

package execcli

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
	"github.com/sysrestrict/sysrestrict/pkg/profile"
)

// The real-kernel tests of embedded programs (sysrestrict-stamp --embed)
// under the loader: docs/embed.md, "Under the loader".

// embedNote is what the embedded victims restrict: the stub's own two
// calls (an allowlist learned before embedding has neither), and two that
// the tests make.
const embedNote = "prctl,seccomp,ptrace,sysinfo"

// embeddedVictim returns a copy of the victim (linked statically or not),
// stamped with names and embedded.
func embeddedVictim(t *testing.T, static bool, names string) string {
	t.Helper()
	from, name := victim, "victim"
	if static {
		from, name = victimStatic, "victim-static"
	}
	path := filepath.Join(t.TempDir(), name)
	copyFile(t, from, path, 0o755)
	set, err := bitmap.Parse(bitmap.X86_64, names)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := elfnote.Stamp(path, set, elfnote.Options{Replace: true, Embed: true}); err != nil {
		t.Fatalf("stamping %s --embed: %v", path, err)
	}
	return path
}

// statusLine returns the value of the /proc/self/status line key in what
// victim status printed.
func statusLine(out, key string) string {
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && k == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func forEachLink(t *testing.T, f func(t *testing.T, static bool)) {
	for _, static := range []bool{false, true} {
		name := "dynamic"
		if static {
			name = "static"
		}
		t.Run(name, func(t *testing.T) { f(t, static) })
	}
}

// TestEmbeddedUnderLoader: an embedded program whose note restricts prctl
// and seccomp runs under the loader (the loader's filter lets its stub's
// two calls through) with both filters in; the note and --deny are
// enforced; and the exemption lets through exactly the stub's two calls,
// nothing that would loosen or change anything else.
func TestEmbeddedUnderLoader(t *testing.T) {
	need(t)
	forEachLink(t, func(t *testing.T, static bool) {
		prog := embeddedVictim(t, static, embedNote)

		// Run directly, the stub alone: one filter.
		r := runCmd(t, nil, prog, "status")
		wantExit(t, "directly: status", r, 0, "")
		if got := statusLine(r.stdout, "Seccomp_filters"); got != "1" || statusLine(r.stdout, "NoNewPrivs") != "1" {
			t.Errorf("directly: %q; want Seccomp_filters 1, NoNewPrivs 1", r.stdout)
		}
		wantSIGSYS(t, "directly: ptrace", runCmd(t, nil, prog, "ptrace"))

		// Through the loader: the loader's filter and the stub's.
		r = load(t, prog, "status")
		wantExit(t, "loader: status", r, 0, "")
		if got := statusLine(r.stdout, "Seccomp_filters"); got != "2" {
			t.Errorf("loader: Seccomp_filters %q, want 2 (the loader's and the stub's):\n%s", got, r)
		}
		wantExit(t, "loader: getppid", load(t, prog, "getppid"), 0, "ok\n")
		wantSIGSYS(t, "loader: ptrace", load(t, prog, "ptrace"))
		wantSIGSYS(t, "loader: sysinfo", load(t, prog, "syscall", "99"))
		wantSIGSYS(t, "loader --deny getppid: getppid", load(t, "--deny", "getppid", prog, "getppid"))

		// Once the stub's filter is in, it restricts the program's own
		// prctl and seccomp as the note says, the stub's calls included.
		wantSIGSYS(t, "loader: prctl 38 1 (the stub's filter)", load(t, prog, "prctl", "38", "1"))

		// The exemption, attacked: under the loader's filter alone (its
		// --dump=raw installed by the victim itself), only the stub's
		// exact calls pass.
		r = load(t, "--dump=raw", prog)
		wantExit(t, "--dump=raw", r, 0, "")
		raw := filepath.Join(t.TempDir(), "loader.bpf")
		if err := os.WriteFile(raw, []byte(r.stdout), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			args []string
			want string // "": killed
		}{
			{[]string{"prctl", "38", "1"}, "prctl: ret 0 errno 0\n"},     // PR_SET_NO_NEW_PRIVS, 1: the stub's
			{[]string{"seccomp-flags", "1"}, "seccomp: ret 0 errno 0\n"}, // SECCOMP_FILTER_FLAG_TSYNC: the stub's
			{[]string{"prctl", "38", "2"}, ""},                           // not 1
			{[]string{"prctl", "39", "0"}, ""},                           // PR_GET_NO_NEW_PRIVS
			{[]string{"prctl", "4", "1"}, ""},                            // PR_SET_DUMPABLE
			{[]string{"prctl", "22", "2"}, ""},                           // PR_SET_SECCOMP
			{[]string{"prctl", "0x100000026", "1"}, ""},                  // 38 in the low half only
			{[]string{"seccomp-flags", "0"}, ""},                         // this thread only
			{[]string{"seccomp-flags", "5"}, ""},                         // | SECCOMP_FILTER_FLAG_SPEC_ALLOW
			{[]string{"seccomp-flags", "9"}, ""},                         // | SECCOMP_FILTER_FLAG_NEW_LISTENER
			{[]string{"seccomp-flags", "3"}, ""},                         // | SECCOMP_FILTER_FLAG_LOG
		} {
			r := runCmd(t, nil, victim, append([]string{"seccomp", raw}, tt.args...)...)
			if tt.want != "" {
				wantExit(t, "the loader's filter: "+strings.Join(tt.args, " "), r, 0, tt.want)
			} else {
				wantSIGSYS(t, "the loader's filter: "+strings.Join(tt.args, " "), r)
			}
		}

		// The same note, not embedded: no exemption.
		plain := plainCopy(t, static, embedNote)
		wantSIGSYS(t, "not embedded, loader: prctl 38 1", load(t, plain, "prctl", "38", "1"))
		wantSIGSYS(t, "not embedded, loader: seccomp-flags 1", load(t, plain, "seccomp-flags", "1"))

		// -v says what runs.
		r = load(t, "-v", prog, "getppid")
		if !strings.Contains(r.stderr, "embedded: its start-up stub installs the note's filter too") {
			t.Errorf("loader -v: %v; want the embedded line", r)
		}
	})
}

// TestEmbeddedNoteActions: an embedded program whose note gives its
// restricted syscalls errno (the stub's filter does the same) runs with
// its stub under the loader unless --action asks for something else: the
// note's own actions, or kill, need no supervisor; log does.
func TestEmbeddedNoteActions(t *testing.T) {
	need(t)
	prog := filepath.Join(t.TempDir(), "victim")
	copyFile(t, victim, prog, 0o755)
	set, err := bitmap.Parse(bitmap.X86_64, embedNote)
	if err != nil {
		t.Fatal(err)
	}
	act := elfnote.Actions{Default: filter.Errno(38)}
	if _, err := elfnote.Stamp(prog, set, elfnote.Options{Replace: true, Embed: true, Actions: act}); err != nil {
		t.Fatalf("stamping %s --embed --action errno: %v", prog, err)
	}
	for _, tt := range []struct {
		args    []string
		filters string // Seccomp_filters: 2 with the stub, 1 past it
		sysinfo string // what sysinfo(NULL) returned; "": killed
	}{
		{nil, "2", "syscall: ret -1 errno 38\n"},
		{[]string{"--action", "errno"}, "2", "syscall: ret -1 errno 38\n"},
		{[]string{"--action", "kill"}, "2", ""},
		{[]string{"--action", "errno=EPERM"}, "1", "syscall: ret -1 errno 1\n"},
		{[]string{"--action", "log"}, "1", "syscall: ret -1 errno 14\n"},
	} {
		name := "loader " + strings.Join(tt.args, " ")
		r := load(t, append(append([]string{}, tt.args...), prog, "status")...)
		if got := statusLine(r.stdout, "Seccomp_filters"); got != tt.filters {
			t.Errorf("%s: Seccomp_filters %q, want %s:\n%s", name, got, tt.filters, r)
		}
		r = load(t, append(append([]string{}, tt.args...), prog, "syscall", "99")...)
		if tt.sysinfo == "" {
			wantSIGSYS(t, name+": sysinfo", r)
		} else {
			wantExit(t, name+": sysinfo", r, 0, tt.sysinfo)
		}
	}
}

// TestEmbeddedAllowlist: the case the stub's two calls are let through
// for: an allowlist learned from the program before it was embedded has
// neither prctl nor seccomp, and the embedded program still starts
// under the loader, as it does directly.
func TestEmbeddedAllowlist(t *testing.T) {
	need(t)
	forEachLink(t, func(t *testing.T, static bool) {
		from := victim
		if static {
			from = victimStatic
		}
		prof := filepath.Join(t.TempDir(), "p.json")
		for _, args := range [][]string{{"getppid"}, {"status"}} {
			wantExit(t, "--learn", load(t, append([]string{"--learn", prof, from}, args...)...), 0, "")
		}
		p, err := profile.ReadFile(prof)
		if err != nil {
			t.Fatal(err)
		}
		allowed, err := p.Set(bitmap.X86_64)
		if err != nil {
			t.Fatal(err)
		}
		set := bitmap.Allowlist(allowed)
		for _, name := range []string{"prctl", "seccomp"} {
			if nr := bitmap.X86_64.Lookup(name)[0]; !set.Has(nr) {
				t.Fatalf("the learned allowlist allows %s: the test needs one that restricts it", name)
			}
		}
		prog := filepath.Join(t.TempDir(), "allowlisted")
		copyFile(t, from, prog, 0o755)
		if _, err := elfnote.Stamp(prog, set, elfnote.Options{Replace: true, Embed: true}); err != nil {
			t.Fatal(err)
		}
		wantExit(t, "directly", runCmd(t, nil, prog, "getppid"), 0, "ok\n")
		wantExit(t, "through the loader", load(t, prog, "getppid"), 0, "ok\n")
		wantSIGSYS(t, "through the loader, ptrace", load(t, prog, "ptrace"))
		r := load(t, "--explain", prog, "ptrace")
		wantSIGSYS(t, "--explain ptrace", r)
		if !strings.Contains(r.stderr, "ptrace (101, x86_64) is restricted by the note's allowlist") {
			t.Errorf("--explain ptrace: %v", r)
		}
	})
}

// plainCopy is embeddedVictim without --embed.
func plainCopy(t *testing.T, static bool, names string) string {
	t.Helper()
	from := victim
	if static {
		from = victimStatic
	}
	path := filepath.Join(t.TempDir(), "plain")
	copyFile(t, from, path, 0o755)
	set, err := bitmap.Parse(bitmap.X86_64, names)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := elfnote.Stamp(path, set, elfnote.Options{Replace: true}); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestEmbeddedDamagedStub: a stub changed after stamping (a byte of its
// code, of its filter, its length) is refused with 126 before anything
// runs, by the loader and by --explain, and the message says what to do.
func TestEmbeddedDamagedStub(t *testing.T) {
	need(t)
	prog := embeddedVictim(t, false, embedNote)
	f, err := elfnote.ReadFile(prog)
	if err != nil || f.Embed == nil {
		t.Fatalf("ReadFile(%s) = %+v, %v; want an embedded file", prog, f, err)
	}
	for _, tt := range []struct {
		name string
		off  uint64 // in the payload
	}{
		{"code", 0x10},
		{"filter", f.Embed.Size - 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, err := os.ReadFile(prog)
			if err != nil {
				t.Fatal(err)
			}
			b[f.Embed.Offset+tt.off] ^= 0x40
			damaged := filepath.Join(t.TempDir(), "damaged")
			if err := os.WriteFile(damaged, b, 0o755); err != nil {
				t.Fatal(err)
			}
			marker := filepath.Join(t.TempDir(), "ran")
			for _, args := range [][]string{{damaged, "marker", marker}, {"--explain", damaged, "marker", marker}, {"--action", "log", damaged, "marker", marker}} {
				r := load(t, args...)
				if r.signal != 0 || r.status != ExitCannotRun || !strings.Contains(r.stderr, "start-up stub") || !strings.Contains(r.stderr, "--remove") {
					t.Errorf("%v: %v; want exit 126 naming the start-up stub and what to do", args, r)
				}
				if _, err := os.Stat(marker); err == nil {
					t.Fatalf("%v: the damaged program ran", args)
				}
			}
		})
	}
}

// TestEmbeddedLearnRefused: --learn of an embedded program, or of a script
// whose interpreter is one, is refused before anything runs, saying what
// to do instead; the advice works.
func TestEmbeddedLearnRefused(t *testing.T) {
	need(t)
	prog := embeddedVictim(t, false, embedNote)
	dir := t.TempDir()
	profile, marker := filepath.Join(dir, "p.json"), filepath.Join(dir, "ran")
	script := filepath.Join(dir, "script")
	if err := os.WriteFile(script, []byte("#!"+prog+" status\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--learn", profile, prog, "marker", marker}, {"--learn", profile, script}} {
		r := load(t, args...)
		if r.signal != 0 || r.status != ExitCannotRun || !strings.Contains(r.stderr, "embedded") || !strings.Contains(r.stderr, "--remove -o") {
			t.Errorf("%v: %v; want exit 126, saying it is embedded and what to do", args, r)
		}
		for _, f := range []string{profile, marker} {
			if _, err := os.Stat(f); err == nil {
				t.Errorf("%v: %s exists: something ran", args, f)
			}
		}
	}
	// What it says to do: learn a copy without the stamp.
	cp := prog + ".unstamped"
	if _, err := elfnote.Remove(prog, elfnote.Options{Output: cp}); err != nil {
		t.Fatalf("--remove -o: %v", err)
	}
	wantExit(t, "--learn of the --remove -o copy", load(t, "--learn", profile, cp, "getppid"), 0, "ok\n")
	if _, err := os.Stat(profile); err != nil {
		t.Errorf("no profile after learning the copy: %v", err)
	}
}

// TestEmbeddedExplain: --explain names the syscall that an embedded
// program (static and dynamic) hits, and kills it, as for any stamped
// program: the supervisor starts it past its stub, whose kill would have
// come first, and its own filter enforces the note.
func TestEmbeddedExplain(t *testing.T) {
	need(t)
	forEachLink(t, func(t *testing.T, static bool) {
		prog := embeddedVictim(t, static, embedNote)
		r := load(t, "--explain", prog, "ptrace")
		wantSIGSYS(t, "--explain ptrace", r)
		if !strings.Contains(r.stderr, "ptrace (101, x86_64) is restricted by the note") {
			t.Errorf("--explain ptrace: %v; want the explain line", r)
		}
		r = load(t, "--explain", "--deny", "getppid", prog, "getppid")
		wantSIGSYS(t, "--explain --deny getppid: getppid", r)
		if !strings.Contains(r.stderr, "getppid (110, x86_64) is restricted by --deny") {
			t.Errorf("--explain --deny getppid: %v; want the explain line", r)
		}
		// The supervisor's filters, as many as for the program stamped
		// without --embed, and no stub's.
		r = load(t, "--explain", prog, "status")
		wantExit(t, "--explain status", r, 0, "")
		plain := load(t, "--explain", plainCopy(t, static, embedNote), "status")
		if got, want := statusLine(r.stdout, "Seccomp_filters"), statusLine(plain.stdout, "Seccomp_filters"); got == "" || got != want {
			t.Errorf("--explain: Seccomp_filters %q, want %q as without --embed (the supervisor's; no stub's):\n%s", got, want, r)
		}
		// A stub the program starts would still get its two calls.
		wantExit(t, "--explain prctl 38 1", load(t, "--explain", prog, "prctl", "38", "1"), 0, "prctl: ret 0 errno 0\n")
		wantSIGSYS(t, "--explain prctl 4 1", load(t, "--explain", prog, "prctl", "4", "1"))
	})
}

// TestEmbeddedAction: --action log, errno and trap act on an embedded
// program as on any other: the supervisor starts it past its stub, under
// the loader's filter alone, untraced (docs/embed.md).
func TestEmbeddedAction(t *testing.T) {
	need(t)
	forEachLink(t, func(t *testing.T, static bool) {
		prog := embeddedVictim(t, static, embedNote)
		// sysinfo(NULL): EFAULT when it runs.
		wantExit(t, "--action log: sysinfo", load(t, "--action", "log", prog, "syscall", "99"), 0, "syscall: ret -1 errno 14\n")
		wantExit(t, "--action errno: sysinfo", load(t, "--action", "errno", prog, "syscall", "99"), 0, "syscall: ret -1 errno 38\n")
		wantExit(t, "--action errno=EPERM: sysinfo", load(t, "--action", "errno=EPERM", prog, "syscall", "99"), 0, "syscall: ret -1 errno 1\n")
		wantSIGSYS(t, "--action trap: sysinfo", load(t, "--action", "trap", prog, "syscall", "99"))
		wantSIGSYS(t, "--action kill: sysinfo", load(t, "--action", "kill", prog, "syscall", "99"))
		wantExit(t, "--action log --deny getppid: getppid", load(t, "--action", "log", "--deny", "getppid", prog, "getppid"), 0, "ok\n")

		r := load(t, "--action", "log", prog, "status")
		wantExit(t, "--action log: status", r, 0, "")
		for key, want := range map[string]string{"Seccomp": "2", "Seccomp_filters": "1", "NoNewPrivs": "1", "TracerPid": "0"} {
			if got := statusLine(r.stdout, key); got != want {
				t.Errorf("--action log: %s %q, want %q:\n%s", key, got, want, r.stdout)
			}
		}
		// Its parent is the supervisor, which ended as it did: ppid is
		// not the test's.
		if ppid := strings.TrimPrefix(strings.TrimSpace(r.stdout[strings.LastIndex(r.stdout, "ppid"):]), "ppid "); ppid == strconv.Itoa(os.Getpid()) {
			t.Errorf("--action log: ppid %s is the test's; want the supervisor's", ppid)
		}
		// Made the supervisor its tracer again: let go of once more, the
		// signal delivered.
		wantExit(t, "--action log: traceme", load(t, "--action", "log", prog, "traceme"), 0, "ptrace: ret 0 errno 0\nusr1 caught\n")
	})
}
