package stampcli

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
)

// TestEmbed: --embed with --deny, --allow, --replace, -o, --dry-run and
// --json; --show and --show --json say embedded, with the stub's size and
// filter; a stamp without --embed keeps a file embedded; --check --embed,
// with and without a LIST, passes an embedded file and fails a file that
// is not embedded, saying what to do; --remove restores the original.
func TestEmbed(t *testing.T) {
	path := fixture(t, "x86_64-pie")
	orig := mustRead(t, path)
	other := fixture(t, "x86_64-static")

	// --dry-run changes nothing, but says it would embed.
	code, out, errOut := stampRun(t, "--embed", "--deny", "ptrace,kexec_load", "--dry-run", path)
	if code != 0 || !strings.Contains(out, "embedded") || !strings.Contains(out, "dry run") || string(mustRead(t, path)) != string(orig) {
		t.Fatalf("--embed --dry-run: %d %q %q", code, out, errOut)
	}
	code, out, errOut = stampRun(t, "--embed", "--deny", "ptrace,kexec_load", path, "--json")
	var rec map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &rec) != nil || rec["embedded"] != true || rec["changed"] != true {
		t.Fatalf("--embed --json: %d %q %q", code, out, errOut)
	}
	f, err := elfnote.ReadFile(path)
	if err != nil || f.Embed == nil {
		t.Fatalf("after --embed: %+v, %v", f, err)
	}

	code, out, _ = stampRun(t, "--show", path)
	if code != 0 || !strings.Contains(out, "embedded (start-up stub of ") || !strings.Contains(out, "ptrace, kexec_load") {
		t.Errorf("--show: %d %q", code, out)
	}
	code, out, _ = stampRun(t, "--show", "--json", path)
	rec = nil
	if code != 0 || json.Unmarshal([]byte(out), &rec) != nil || rec["embedded"] != true ||
		rec["stub_size"] != float64(f.Embed.Size) || rec["filter_len"] != float64(f.Embed.FilterLen) {
		t.Errorf("--show --json: %d %q; want embedded, stub_size %d, filter_len %d", code, out, f.Embed.Size, f.Embed.FilterLen)
	}
	code, out, _ = stampRun(t, "--show", "--json", other)
	if rec = nil; code != 0 || json.Unmarshal([]byte(out), &rec) != nil || rec["embedded"] != nil {
		t.Errorf("--show --json of an unstamped file: %q; want no embedded field", out)
	}

	// A stamp without --embed keeps it embedded, with the new filter.
	code, out, errOut = stampRun(t, "--deny", "execveat", path)
	if f2, _ := elfnote.ReadFile(path); code != 0 || !strings.Contains(out, "embedded") || f2 == nil || f2.Embed == nil || f2.Embed.FilterLen == f.Embed.FilterLen {
		t.Errorf("re-stamp without --embed: %d %q %q; want it embedded, its filter rewritten", code, out, errOut)
	}

	// --check --embed.
	if code, out, errOut := stampRun(t, "--check", "--embed", path); code != 0 || out != path+": ok\n" {
		t.Errorf("--check --embed of an embedded file: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := stampRun(t, "--check", "--embed", "--deny", "ptrace", path); code != 0 {
		t.Errorf("--check --embed --deny ptrace of an embedded file: %d %q", code, errOut)
	}
	plain := fixture(t, "x86_64-exec")
	if code, _, _ := stampRun(t, "-q", "--deny", "ptrace", plain); code != 0 {
		t.Fatal("stamping the plain file failed")
	}
	for _, args := range [][]string{{"--check", "--embed", plain}, {"--check", "--embed", "--deny", "ptrace", plain}} {
		code, out, errOut := stampRun(t, args...)
		if code != 1 || out != "" || !strings.Contains(errOut, plain+": not embedded") || !strings.Contains(errOut, "stamp it with --embed") {
			t.Errorf("%v: %d %q %q; want 1 and what to do", args, code, out, errOut)
		}
	}
	code, out, _ = stampRun(t, "--check", "--embed", "--json", plain, path)
	if code != 1 || !strings.Contains(out, `"embedded":false`) || !strings.Contains(out, `"embedded":true`) {
		t.Errorf("--check --embed --json: %d %q", code, out)
	}
	if code, _, errOut := stampRun(t, "--check", "--embed", other); code != 1 || !strings.Contains(errOut, "not stamped") {
		t.Errorf("--check --embed of an unstamped file: %d %q", code, errOut)
	}

	// -o: the input is untouched; the output is embedded.
	dst := filepath.Join(t.TempDir(), "out")
	if code, _, errOut := stampRun(t, "--embed", "--allow", "read,write,exit_group", "-o", dst, other); code != 0 {
		t.Fatalf("--embed --allow -o: %d %q", code, errOut)
	}
	if f, err := elfnote.ReadFile(dst); err != nil || f.Embed == nil || !f.Set.DenyBeyond() {
		t.Errorf("the -o output: %+v, %v; want an embedded allowlist", f, err)
	}
	if _, stamped := readSet(t, other); stamped {
		t.Errorf("-o stamped the input")
	}
	// --replace loosens an embedded file, which stays embedded.
	if code, _, errOut := stampRun(t, "--replace", "--deny", "kexec_load", path); code != 0 {
		t.Fatalf("--replace: %d %q", code, errOut)
	}
	if f, _ := elfnote.ReadFile(path); f == nil || f.Embed == nil || f.Set.Len() != 1 {
		t.Errorf("after --replace: %+v; want embedded, kexec_load only", f)
	}

	if code, out, errOut := stampRun(t, "--remove", path); code != 0 || out != path+": note removed\n" {
		t.Fatalf("--remove: %d %q %q", code, out, errOut)
	}
	if string(mustRead(t, path)) != string(orig) {
		t.Errorf("--remove did not restore the original bytes")
	}
}

// TestEmbedUsage: what --embed does not go with is a usage error (exit 2,
// nothing touched); what it cannot embed fails that file (exit 1), saying
// why, and the others are still done.
func TestEmbedUsage(t *testing.T) {
	path := fixture(t, "x86_64-pie")
	for _, args := range [][]string{
		{"--remove", "--embed", path},
		{"--show", "--embed", path},
	} {
		if code, _, errOut := stampRun(t, args...); code != ExitUsage || !strings.Contains(errOut, "--embed") {
			t.Errorf("%v: %d %q; want usage error", args, code, errOut)
		}
	}
	if _, stamped := readSet(t, path); stamped {
		t.Fatal("a usage error stamped the file")
	}

	// --embed alone embeds what the file already restricts.
	if code, _, errOut := stampRun(t, "-q", "--deny", "ptrace", path); code != 0 {
		t.Fatal(errOut)
	}
	if code, out, errOut := stampRun(t, "--embed", path); code != 0 || !strings.Contains(out, "embedded") {
		t.Errorf("--embed alone: %d %q %q", code, out, errOut)
	}

	lib, i386, aarch := fixture(t, "libhello.so"), fixture(t, "i386-pie"), fixture(t, "aarch64-pie")
	code, _, errOut := stampRun(t, "--embed", "--deny", "ptrace", lib, i386, aarch)
	if code != ExitFailed || !strings.Contains(errOut, lib+": unsupported ELF file: --embed: e_entry is 0") ||
		!strings.Contains(errOut, i386+": unsupported ELF file: --embed: the start-up stub exists for x86_64 and aarch64 binaries, this one is i386") {
		t.Errorf("--embed of a library and an i386 program: %d %q", code, errOut)
	}
	if f, err := elfnote.ReadFile(aarch); err != nil || f.Embed == nil {
		t.Errorf("the aarch64 program beside them: %+v, %v; want it embedded", f, err)
	}
	for _, p := range []string{lib, i386} {
		if _, stamped := readSet(t, p); stamped {
			t.Errorf("%s was stamped", p)
		}
	}
}

// TestEmbedStripped: GNU strip after --embed breaks the binary; --check
// (with and without --embed) and --show say the stub is damaged and what
// to do, the stamper refuses to stamp it (exit 1 each).
func TestEmbedStripped(t *testing.T) {
	strip, err := exec.LookPath("strip")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("strip is not installed")
		}
		t.Skip("strip is not installed")
	}
	for _, name := range []string{"x86_64-pie", "x86_64-static", "go-internal"} {
		path := fixture(t, name)
		if code, _, errOut := stampRun(t, "-q", "--embed", "--deny", "ptrace", path); code != 0 {
			t.Fatal(errOut)
		}
		if out, err := exec.Command(strip, path).CombinedOutput(); err != nil {
			t.Fatalf("strip: %v %s", err, out)
		}
		for _, args := range [][]string{{"--check", "--embed", path}, {"--check", path}, {"--show", path}, {"--embed", "--deny", "kexec_load", path}} {
			code, _, errOut := stampRun(t, args...)
			if code != ExitFailed || !strings.Contains(errOut, "damaged start-up stub") || !strings.Contains(errOut, "embed the unstripped build output again") {
				t.Errorf("%s: %v: %d %q; want exit 1, a damaged stub and what to do", name, args, code, errOut)
			}
		}
		f, err := elfnote.ReadFile(path)
		if !errors.Is(err, elfnote.ErrDamagedStub) || f == nil {
			t.Errorf("%s: ReadFile = %v", name, err)
		}
	}
}

// TestPolicyEmbed: --embed is an option of a policy rule: the rules that
// say it embed their files, --check --policy fails a file whose rule says
// --embed and that is not embedded, and --embed on the command line with
// --policy is a usage error.
func TestPolicyEmbed(t *testing.T) {
	pol, root := installTree(t)
	writePolicy(t, pol, `usr/bin/server     --embed --deny @debug,@mount
usr/bin/tool       --deny ptrace
usr/bin/other      --deny ptrace
usr/bin/arm-helper --deny=@exec --embed
usr/libexec/app/*  skip
usr/lib/**/*.so*   skip
`)
	if code, _, errOut := stampRun(t, "--policy", pol, "--root", root, "--embed"); code != ExitUsage || !strings.Contains(errOut, "--embed go in the policy file's rules") {
		t.Errorf("--embed with --policy: %d %q; want a usage error", code, errOut)
	}
	if code, _, errOut := stampRun(t, "-q", "--policy", pol, "--root", root); code != 0 {
		t.Fatalf("--policy: %d %q", code, errOut)
	}
	for name, want := range map[string]bool{"usr/bin/server": true, "usr/bin/arm-helper": true, "usr/bin/tool": false, "usr/bin/other": false} {
		if f, err := elfnote.ReadFile(filepath.Join(root, name)); err != nil || (f.Embed != nil) != want {
			t.Errorf("%s: %+v, %v; want embedded %v", name, f, err, want)
		}
	}
	if code, _, errOut := stampRun(t, "--check", "--policy", pol, "--root", root); code != 0 {
		t.Errorf("--check --policy: %d %q", code, errOut)
	}
	writePolicy(t, pol, `usr/bin/server     --embed --deny @debug,@mount
usr/bin/tool       --embed --deny ptrace
usr/bin/other      --deny ptrace
usr/bin/arm-helper --deny=@exec
usr/libexec/app/*  skip
usr/lib/**/*.so*   skip
`)
	code, _, errOut := stampRun(t, "--check", "--policy", pol, "--root", root)
	if code != ExitFailed || !strings.Contains(errOut, filepath.Join(root, "usr/bin/tool")+": not embedded") || strings.Contains(errOut, "server") {
		t.Errorf("--check --policy with tool's rule saying --embed: %d %q; want only tool failing", code, errOut)
	}
}
