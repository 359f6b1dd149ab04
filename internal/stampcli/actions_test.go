package stampcli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
)

// readActions returns the note's actions as --show --json spells them.
func readActions(t *testing.T, name string) string {
	t.Helper()
	f, err := elfnote.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return f.Actions.Describe(f.ABI)
}

func TestSplitItems(t *testing.T) {
	plain, items, err := splitItems("deny", []string{" clone3:ENOSYS , execve", "@fork:eperm,ptrace:kill,openat:log,mount:13,umount2:errno=EACCES,bind:errno"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"clone3,execve", "@fork,ptrace,openat,mount,umount2,bind"}; !cmp.Equal(plain, want) {
		t.Errorf("plain lists %q, want %q", plain, want)
	}
	var got []string
	for _, it := range items {
		a := "default"
		if it.action != nil {
			a = it.action.Name()
		}
		got = append(got, it.name+"="+a)
	}
	want := []string{"clone3=errno=ENOSYS", "execve=default", "@fork=errno=EPERM", "ptrace=kill", "openat=log", "mount=errno=EACCES", "umount2=errno=EACCES", "bind=errno=ENOSYS"}
	if !cmp.Equal(got, want) {
		t.Errorf("items %q, want %q", got, want)
	}
	for _, tt := range []struct {
		opt  string
		list string
		msg  string
	}{
		{"deny", "clone3:ENOSYSS", `--deny clone3:ENOSYSS: "ENOSYSS" is not an action: give an errno name (ENOSYS, EPERM, ...) or number 1..4095, kill or log; did you mean ENOSYS?`},
		{"deny", "clone3:", `"" is not an action`},
		{"deny", "clone3:trap", "--deny clone3:trap: trap is an action of a run (sysrestrict-exec --action trap), not of a binary"},
		{"deny", "clone3:0", `"0" is not an action`},
		{"deny", "clone3:4096", `"4096" is not an action`},
		{"deny", "clone3:errno=EPRM", "--deny clone3:errno=EPRM: unknown errno \"EPRM\" (give a name like EPERM or ENOSYS, or a number 1..4095); did you mean EPERM?"},
		{"allow", "read:EPERM", "--allow read:EPERM: an --allow item is allowed, not restricted, and an action is what a restricted syscall gets; give read with --deny read:EPERM"},
	} {
		if _, _, err := splitItems(tt.opt, []string{tt.list}); err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("splitItems(%s, %q) = %v, want %q", tt.opt, tt.list, err, tt.msg)
		}
	}
}

// TestOverridesLaterWins: of two items naming one syscall the later's
// action is taken, and an item without one gives the default back.
func TestOverridesLaterWins(t *testing.T) {
	_, items, err := splitItems("deny", []string{"@fork:EPERM,clone3:ENOSYS", "vfork", "fork:kill"})
	if err != nil {
		t.Fatal(err)
	}
	ov, err := overrides(bitmap.X86_64, items, filter.Kill())
	if err != nil {
		t.Fatal(err)
	}
	got := elfnote.Actions{Overrides: ov}.Describe(bitmap.X86_64)
	if want := "kill; clone: errno=EPERM, clone3: errno=ENOSYS"; got != want {
		t.Errorf("overrides = %s, want %s", got, want)
	}
	ov, err = overrides(bitmap.X86_64, items, filter.Errno(1))
	if err != nil {
		t.Fatal(err)
	}
	got = elfnote.Actions{Default: filter.Errno(1), Overrides: ov}.Describe(bitmap.X86_64)
	if want := "errno=EPERM; fork: kill, clone3: errno=ENOSYS"; got != want {
		t.Errorf("overrides with errno=EPERM as the default = %s, want %s", got, want)
	}
}

func TestStampActions(t *testing.T) {
	bin := fixture(t, "x86_64-pie")
	code, out, errOut := stampRun(t, "--deny", "clone3:ENOSYS,execve", bin)
	if code != 0 || !strings.Contains(out, "+2 restricted (execve, clone3); 2 total; actions: kill; clone3: errno=ENOSYS\n") {
		t.Fatalf("--deny clone3:ENOSYS,execve = %d, %q, %q", code, out, errOut)
	}
	if got := readActions(t, bin); got != "kill; clone3: errno=ENOSYS" {
		t.Errorf("note: %s", got)
	}
	code, out, _ = stampRun(t, "--show", bin)
	if want := bin + ": x86_64, 2 restricted: execve, clone3; actions: kill; clone3: errno=ENOSYS\n"; code != 0 || out != want {
		t.Errorf("--show = %d, %q, want %q", code, out, want)
	}
	code, out, _ = stampRun(t, "--show", "--json", bin)
	var rec fileJSON
	if err := json.Unmarshal([]byte(out), &rec); code != 0 || err != nil || rec.Action != "kill" || !cmp.Equal(rec.Overrides, map[string]string{"clone3": "errno=ENOSYS"}) {
		t.Errorf("--show --json = %d, %q (%v)", code, out, err)
	}

	// A looser --action without --replace: the default stays kill, the
	// new syscall gets log, and the stamper says what it did not take.
	code, out, errOut = stampRun(t, "--action", "log", "--deny", "ptrace", bin)
	if code != 0 || !strings.Contains(out, "+1 restricted (ptrace); 3 total; actions: kill; ptrace: log, clone3: errno=ENOSYS\n") ||
		!strings.Contains(errOut, "without --replace a stamp never loosens an action, so the note's stricter ones stay: the default stays kill (asked log)") {
		t.Errorf("--action log --deny ptrace = %d, %q, %q", code, out, errOut)
	}
	// kill asked for clone3: stricter, taken.
	code, out, _ = stampRun(t, "--deny", "clone3", bin)
	if code != 0 || !strings.Contains(out, ": clone3 errno=ENOSYS -> kill; 3 total; actions: kill; ptrace: log\n") {
		t.Errorf("--deny clone3 = %d, %q", code, out)
	}
	// An errno asked for a killed syscall: not taken without --replace.
	code, _, errOut = stampRun(t, "--deny", "execve:EPERM", bin)
	if code != 0 || !strings.Contains(errOut, "execve stays kill (asked errno=EPERM)") || readActions(t, bin) != "kill; ptrace: log" {
		t.Errorf("--deny execve:EPERM = %d, %q; note %s", code, errOut, readActions(t, bin))
	}
	// --action alone tightens every syscall of the note.
	code, out, _ = stampRun(t, "--action", "kill", bin)
	if code != 0 || !strings.Contains(out, ": ptrace log -> kill; 3 total; actions: kill\n") || readActions(t, bin) != "kill" {
		t.Errorf("--action kill = %d, %q; note %s", code, out, readActions(t, bin))
	}
	// --replace loosens.
	code, out, _ = stampRun(t, "--replace", "--action", "errno=EPERM", "--deny", "@fork:ENOSYS,execve", bin)
	if want := "errno=EPERM; clone: errno=ENOSYS, fork: errno=ENOSYS, vfork: errno=ENOSYS, clone3: errno=ENOSYS"; code != 0 || readActions(t, bin) != want {
		t.Errorf("--replace --action errno=EPERM --deny @fork:ENOSYS,execve = %d, %q; note %s, want %s", code, out, readActions(t, bin), want)
	}
	// And back to all-kill: the file is byte for byte a plain stamp.
	plain := fixture(t, "x86_64-pie")
	if code, _, _ := stampRun(t, "--deny", "@fork,execve", plain); code != 0 {
		t.Fatal("plain stamp failed")
	}
	if code, _, _ := stampRun(t, "--replace", "--deny", "@fork,execve", bin); code != 0 || !cmp.Equal(mustRead(t, bin), mustRead(t, plain)) {
		t.Errorf("re-stamped to all-kill: %d, bytes differ from a plain stamp", code)
	}
	// Removal restores the fixture.
	if code, _, _ := stampRun(t, "--remove", bin); code != 0 || !cmp.Equal(mustRead(t, bin), mustRead(t, "../../testdata/elf/x86_64-pie")) {
		t.Errorf("--remove: %d, bytes differ from the fixture", code)
	}
}

func TestStampActionsUsage(t *testing.T) {
	bin := fixture(t, "x86_64-pie")
	orig := mustRead(t, bin)
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--deny", "clone3:ENOSYSS", bin}, "did you mean ENOSYS?"},
		{[]string{"--allow", "read,write:EPERM", bin}, "an --allow item is allowed, not restricted"},
		{[]string{"--action", "trap", "--deny", "ptrace", bin}, "trap is an action of a run"},
		{[]string{"--action", "errno=EPRM", "--deny", "ptrace", bin}, "did you mean EPERM?"},
		{[]string{"--show", "--action", "log", bin}, "--show takes no --deny, --allow, --allow-profile, --action"},
		{[]string{"--remove", "--action", "log", bin}, "--remove takes no --deny, --allow, --allow-profile, --action"},
		{[]string{"--deny", "nosuch:EPERM", bin}, `"nosuch": no syscall of that name on x86_64`},
	} {
		code, _, errOut := stampRun(t, tt.args...)
		if code != ExitUsage || !strings.Contains(errOut, tt.msg) {
			t.Errorf("%q = %d, %q; want %d and %q", tt.args, code, errOut, ExitUsage, tt.msg)
		}
	}
	if !cmp.Equal(mustRead(t, bin), orig) {
		t.Error("a usage error changed the file")
	}
	code, _, errOut := stampRun(t, "--action", "log", bin)
	if code != ExitFailed || !strings.Contains(errOut, "not stamped: --action alone gives the note's syscalls an action") {
		t.Errorf("--action alone on an unstamped file = %d, %q", code, errOut)
	}
}

// TestAllowlistAction: an allowlist's restricted syscalls get --action,
// from --allow and --allow-profile alike, and a --deny item's own action
// goes with it.
func TestAllowlistAction(t *testing.T) {
	bin := fixture(t, "x86_64-pie")
	code, _, errOut := stampRun(t, "--allow", "read,write,openat", "--action", "errno=EPERM", "--deny", "clone3:ENOSYS", bin)
	if code != 0 {
		t.Fatalf("%d, %q", code, errOut)
	}
	f, err := elfnote.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Set.DenyBeyond() || f.Actions.Default != filter.Errno(1) || f.Actions.For(435) != filter.Errno(38) || len(f.Actions.Overrides) != 1 {
		t.Errorf("allowlist with errno=EPERM and clone3:ENOSYS: %v, %s", f.Set, f.Actions.Describe(f.ABI))
	}
	code, out, _ := stampRun(t, "--show", bin)
	if code != 0 || !strings.HasSuffix(out, "; actions: errno=EPERM; clone3: errno=ENOSYS\n") {
		t.Errorf("--show = %q", out)
	}
}

// TestCheckActions: --check fails a file whose action is weaker than
// asked (kill unless --action or :ACTION say otherwise).
func TestCheckActions(t *testing.T) {
	bin := fixture(t, "x86_64-pie")
	if code, _, errOut := stampRun(t, "--action", "log", "--deny", "ptrace,clone3:ENOSYS", bin); code != 0 {
		t.Fatal(errOut)
	}
	for _, tt := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--deny", "ptrace"}, ExitFailed, "gives a weaker action than asked (kill over errno over log): default log (asked kill), ptrace log (asked kill)"},
		{[]string{"--action", "log", "--deny", "ptrace"}, ExitOK, ""},
		{[]string{"--action", "log", "--deny", "ptrace,clone3:kill"}, ExitFailed, "clone3 errno=ENOSYS (asked kill)"},
		{[]string{"--action", "log", "--deny", "clone3:EPERM"}, ExitOK, ""},
		{[]string{"--action", "log", "--deny", "clone3"}, ExitOK, ""},
		{[]string{"--action", "errno", "--deny", "clone3"}, ExitFailed, "default log (asked errno=ENOSYS)"},
		{[]string{"--action", "log"}, ExitOK, ""},
		{[]string{"--action", "kill"}, ExitFailed, "default log (asked kill), ptrace log (asked kill), clone3 errno=ENOSYS (asked kill)"},
		{nil, ExitOK, ""}, // a valid note, actions not asked about
	} {
		code, _, errOut := stampRun(t, append(append([]string{"--check"}, tt.args...), bin)...)
		if code != tt.code || !strings.Contains(errOut, tt.msg) {
			t.Errorf("--check %q = %d, %q; want %d and %q", tt.args, code, errOut, tt.code, tt.msg)
		}
	}
	code, out, _ := stampRun(t, "--check", "--json", "--deny", "ptrace", bin)
	var rec fileJSON
	if err := json.Unmarshal([]byte(out), &rec); code != ExitFailed || err != nil || *rec.OK || !cmp.Equal(rec.Weaker, []string{"default log (asked kill)", "ptrace log (asked kill)"}) {
		t.Errorf("--check --json = %d, %q", code, out)
	}
}

// TestPolicyActions: a rule's --action and :ACTION items apply to the
// files it matches, rules combining as repeated options do.
func TestPolicyActions(t *testing.T) {
	pol, root := installTree(t)
	writePolicy(t, pol, `usr/bin/server      --deny clone:ENOSYS,clone3:ENOSYS,@exec
usr/bin/other       --action log --allow read,write
usr/libexec/app/*   --action errno=EPERM --deny ptrace
usr/libexec/app/a   --deny ptrace:kill
usr/bin/tool        skip
usr/bin/arm-helper  skip
usr/lib/**/*.so*    skip
`)
	code, _, errOut := stampRun(t, "--policy", pol, "--root", root)
	if code != 0 {
		t.Fatalf("--policy: %d, %q", code, errOut)
	}
	for name, want := range map[string]string{
		"usr/bin/server":    "kill; clone: errno=ENOSYS, clone3: errno=ENOSYS",
		"usr/bin/other":     "log",
		"usr/libexec/app/b": "errno=EPERM",
		"usr/libexec/app/a": "errno=EPERM; ptrace: kill",
	} {
		if got := readActions(t, filepath.Join(root, name)); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
	if code, _, errOut := stampRun(t, "--check", "--policy", pol, "--root", root); code != 0 {
		t.Errorf("--check --policy after stamping: %d, %q", code, errOut)
	}
	writePolicy(t, pol, "usr/bin/server --deny clone:ENOSYSS\n")
	if code, _, errOut := stampRun(t, "--policy", pol, "--root", root); code != ExitUsage || !strings.Contains(errOut, pol+":1: --deny clone:ENOSYSS") {
		t.Errorf("a bad :ACTION in a rule: %d, %q; want it located", code, errOut)
	}
	if code, _, errOut := stampRun(t, "--action", "log", "--policy", pol, "--root", root); code != ExitUsage || !strings.Contains(errOut, "--action, --replace and --embed go in the policy file's rules") {
		t.Errorf("--action with --policy: %d, %q", code, errOut)
	}
	os.Remove(pol)
}

// TestEmbedWithActions: --embed and :ACTION together: the note carries
// both, --show says both, --check --embed passes.
func TestEmbedWithActions(t *testing.T) {
	bin := fixture(t, "x86_64-pie")
	if code, _, errOut := stampRun(t, "--embed", "--deny", "clone3:ENOSYS,ptrace", bin); code != 0 {
		t.Fatalf("--embed --deny clone3:ENOSYS,ptrace: %d, %q", code, errOut)
	}
	code, out, _ := stampRun(t, "--show", bin)
	if code != 0 || !strings.Contains(out, "embedded (start-up stub") || !strings.HasSuffix(out, "; actions: kill; clone3: errno=ENOSYS\n") {
		t.Errorf("--show = %d, %q", code, out)
	}
	if code, _, errOut := stampRun(t, "--check", "--embed", "--deny", "ptrace,clone3:ENOSYS", bin); code != 0 {
		t.Errorf("--check --embed = %d, %q", code, errOut)
	}
	if code, _, errOut := stampRun(t, "--check", "--embed", "--deny", "clone3", bin); code != ExitFailed || !strings.Contains(errOut, "clone3 errno=ENOSYS (asked kill)") {
		t.Errorf("--check --embed --deny clone3 = %d, %q; want the weaker action named", code, errOut)
	}
}
