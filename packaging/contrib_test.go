package packaging

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The scripts for other pipelines (docs/packaging.md) are run here on
// staging trees, with the variables their build systems set; the build
// systems themselves (Buildroot, nixpkgs' stdenv, makepkg) are not.

// TestBuildrootPostBuild runs the post-build script as Buildroot does,
// with TARGET_DIR and the policy as arguments.
func TestBuildrootPostBuild(t *testing.T) {
	in := installTree(t)
	root, sources := buildRoot(t, "usr/bin/app", "usr/sbin/other")
	policy := filepath.Join(sources, "sysrestrict.policy")
	writeFile(t, policy, "usr/bin/* --deny @mount,@exec\n", 0o644)
	other := readFile(t, filepath.Join(root, "usr/sbin/other"))
	env := []string{"SYSRESTRICT_STAMP=" + in.stamp}
	if r := run(t, "", env, "buildroot/post-build.sh", root, policy); !r.ok() {
		t.Fatalf("post-build.sh: %v\n%s%s", r, r.stdout, r.stderr)
	}
	app := filepath.Join(root, "usr/bin/app")
	if s := show(t, in.stamp, app)[app]; !restricts(s, "mount", "execve") {
		t.Errorf("usr/bin/app: %+v", s)
	}
	if !bytes.Equal(readFile(t, filepath.Join(root, "usr/sbin/other")), other) {
		t.Error("post-build.sh changed usr/sbin/other, which no rule matches")
	}
	writeFile(t, policy, "usr/lib/* --deny @mount\n", 0o644)
	if r := run(t, "", env, "buildroot/post-build.sh", root, policy); r.ok() {
		t.Error("post-build.sh passed with a rule that matches no file")
	}
}

// TestNixSetupHook sources the setup hook as stdenv does and runs its
// postFixupHooks.
func TestNixSetupHook(t *testing.T) {
	in := installTree(t)
	bash := need(t, "bash")
	root, sources := buildRoot(t, "bin/app")
	policy := filepath.Join(sources, "app.sysrestrict")
	writeFile(t, policy, "bin/* --deny @mount\n", 0o644)
	hook, _ := filepath.Abs("nix/setup-hook.sh")
	script := `set -e
postFixupHooks=()
source "$HOOK"
for h in "${postFixupHooks[@]}"; do "$h"; done
`
	app := filepath.Join(root, "bin/app")
	before := readFile(t, app)

	// Without sysrestrictPolicy the hook does nothing.
	if r := run(t, "", []string{"HOOK=" + hook, "out=" + root, "-sysrestrictPolicy"}, bash, "-c", script); !r.ok() {
		t.Fatalf("hook without sysrestrictPolicy: %v\n%s", r, r.stderr)
	}
	if !bytes.Equal(readFile(t, app), before) {
		t.Fatal("the hook changed $out without sysrestrictPolicy")
	}
	env := []string{"HOOK=" + hook, "PATH=" + in.bin + ":" + os.Getenv("PATH"), "NIX_BUILD_CORES=2"}
	if r := run(t, "", append(env, "out=/nonexistent", "bin="+root, "sysrestrictOutput=bin", "sysrestrictPolicy="+policy), bash, "-c", script); !r.ok() {
		t.Fatalf("hook: %v\n%s%s", r, r.stdout, r.stderr)
	}
	if s := show(t, in.stamp, app)[app]; !restricts(s, "mount") {
		t.Errorf("bin/app: %+v", s)
	}
	if r := run(t, "", append(env, "out="+root, "sysrestrictPolicy="+policy+".missing"), bash, "-c", script); r.ok() {
		t.Error("the hook passed with a missing policy file")
	}
}

// TestArchTidyModule loads the tidy module as makepkg does (with its
// message and option helpers stubbed) and runs tidy_modify inside a
// fakeroot session: the stamp keeps the owner fakeroot faked.
func TestArchTidyModule(t *testing.T) {
	in := installTree(t)
	bash := need(t, "bash")
	fakeroot := need(t, "fakeroot")
	lib := t.TempDir()
	writeFile(t, filepath.Join(lib, "util/message.sh"), "msg2() { printf \"  -> $1\\n\" \"${@:2}\"; }\nerror() { printf \"==> ERROR: $1\\n\" \"${@:2}\" >&2; }\ngettext() { printf '%s' \"$1\"; }\n", 0o644)
	writeFile(t, filepath.Join(lib, "util/option.sh"), `check_option() {
	local o
	for o in "${options[@]}"; do
		[[ $o == "$1" ]] && { [[ $2 == y ]]; return; }
		[[ $o == "!$1" ]] && { [[ $2 == n ]]; return; }
	done
	return 127
}
`, 0o644)
	module, _ := filepath.Abs("arch/sysrestrict.sh")
	start := t.TempDir()
	pkgdir := filepath.Join(start, "pkg/hello")
	copyFile(t, "/bin/true", filepath.Join(pkgdir, "usr/bin/hello"), 0o755)
	writeFile(t, filepath.Join(start, "hello.sysrestrict"), "usr/bin/hello --deny @mount\n", 0o644)
	script := `set -e
source "$MODULE"
pkgname=hello startdir=$START pkgdir=$PKGDIR
options=($OPTS)
cd "$pkgdir"
chown 0:12 usr/bin/hello
for f in "${tidy_modify[@]}"; do "$f"; done
stat -c %u:%g usr/bin/hello
`
	env := []string{"MODULE=" + module, "MAKEPKG_LIBRARY=" + lib, "START=" + start, "PKGDIR=" + pkgdir,
		"PATH=" + in.bin + ":" + os.Getenv("PATH")}
	hello := filepath.Join(pkgdir, "usr/bin/hello")
	before := readFile(t, hello)
	if r := run(t, "", append(env, "OPTS=!sysrestrict"), fakeroot, bash, "-c", script); !r.ok() || !bytes.Equal(readFile(t, hello), before) {
		t.Fatalf("options=(!sysrestrict): %v, changed %v\n%s", r, !bytes.Equal(readFile(t, hello), before), r.stderr)
	}
	r := run(t, "", append(env, "OPTS=sysrestrict strip"), fakeroot, bash, "-c", script)
	if !r.ok() {
		t.Fatalf("tidy_sysrestrict: %v\n%s%s", r, r.stdout, r.stderr)
	}
	if s := show(t, in.stamp, hello)[hello]; !restricts(s, "mount") {
		t.Errorf("usr/bin/hello: %+v", s)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if got := lines[len(lines)-1]; got != "0:12" {
		t.Errorf("under fakeroot, usr/bin/hello is owned by %q after stamping, want the faked 0:12\n%s", got, r.stdout)
	}
}
