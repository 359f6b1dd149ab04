//go:build linux && amd64

package elfnote

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/sysrestrict/sysrestrict/internal/stub"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
)

// TestEmbedActions: an embedded stamp's start-up stub enforces the note's
// actions, run directly on the real kernel with no loader: getuid fails
// with EPERM (its override) in the program and in a thread, getgid runs
// (log), ptrace kills (the default). Re-stamping with other actions
// rewrites the stub's filter; a note whose actions are changed in the
// file afterwards, even to another valid action note, no longer matches
// its stub (ErrDamagedStub). Remove gives the original back.
func TestEmbedActions(t *testing.T) {
	var fx fixture
	for _, f := range loadFixtures(t) {
		if f.File == "embed-exec" {
			fx = f
		}
	}
	if fx.File == "" {
		t.Fatal("fixtures.json has no embed-exec")
	}
	dir := t.TempDir()
	for _, lib := range fx.Beside {
		copyFile(t, filepath.Join(fixtureDir, lib), filepath.Join(dir, lib))
	}
	path := filepath.Join(dir, fx.File)
	copyFile(t, filepath.Join(fixtureDir, fx.File), path)
	orig := mustRead(t, path)

	set := bitmap.NewSet(bitmap.X86_64, nrPtrace, nrGetuid, 104)
	act := Actions{Overrides: map[int]filter.Action{nrGetuid: filter.Errno(1), 104: filter.Log()}}
	res, err := Stamp(path, set, Options{Embed: true, Actions: act})
	if err != nil || !res.Embedded {
		t.Fatalf("Stamp(Embed, actions) = %+v, %v", res, err)
	}
	f, err := ReadFile(path)
	if err != nil || f.Embed == nil || !f.Actions.Equal(act) {
		t.Fatalf("ReadFile of the embedded stamp: %+v, %v", f, err)
	}
	// The stub's filter is the note's, actions included.
	b := mustRead(t, path)
	prog, _, err := stub.Parse(bitmap.X86_64, b[f.Embed.Offset:f.Embed.Offset+f.Embed.Size], f.Embed.Vaddr)
	if err != nil {
		t.Fatal(err)
	}
	want, err := filter.Build(set, act.Options())
	if err != nil {
		t.Fatal(err)
	}
	kill, _ := filter.Build(set, filter.Options{})
	if !slices.Equal(prog, want.Instructions()) || slices.Equal(prog, kill.Instructions()) {
		t.Errorf("the stub's filter (%d instructions) is not the note's with its actions (%d)", len(prog), want.Len())
	}

	run := func(what string, wantOut string, wantSig syscall.Signal, args ...string) {
		t.Helper()
		p := runProc(dir, append(append(fx.Run, "./"+fx.File), args...)...)
		if p.Err != "" || p.Signal != wantSig || p.Stdout != wantOut {
			t.Errorf("%s: %+v, want stdout %q and signal %v", what, p, wantOut, wantSig)
		}
	}
	run("getuid: EPERM", "call 102: ret -1\n", 0, "call", "102")
	run("getuid in a thread: EPERM", "thread: ret -1\n", 0, "thread", "102")
	run("getgid: logged, runs", "call 104: ret 0\n", 0, "call", "104")
	run("ptrace: killed", "", syscall.SIGSYS, "call", "101")

	// Re-stamped with --replace and getuid killed: the stub's filter
	// follows.
	if _, err := Stamp(path, set, Options{Replace: true, Actions: Actions{Overrides: map[int]filter.Action{104: filter.Log()}}}); err != nil {
		t.Fatal(err)
	}
	if f, err := ReadFile(path); err != nil || f.Embed == nil {
		t.Fatalf("after re-stamping: %+v, %v", f, err)
	}
	run("getuid, re-stamped: killed", "", syscall.SIGSYS, "call", "102")
	run("getgid, re-stamped: still logged", "call 104: ret 0\n", 0, "call", "104")

	// The action note changed in the file, to a note a reader takes:
	// getgid killed rather than logged. The stub still logs it, and the
	// file reads as damaged.
	f, err = ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = mustRead(t, path)
	at := f.Note.ActionOff
	if binary.LittleEndian.Uint32(b[at+8:]) != 1 || binary.LittleEndian.Uint32(b[at+12:]) != 104 {
		t.Fatalf("the action note is not one override of getgid: % x", b[at:at+20])
	}
	binary.LittleEndian.PutUint32(b[at+16:], filter.SECCOMP_RET_ERRNO|13)
	tampered := filepath.Join(dir, "tampered")
	if err := os.WriteFile(tampered, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := decodeActions(b[at:at+20], at, binary.LittleEndian, set); err != nil {
		t.Fatalf("the tampered action note should be one a reader takes: %v", err)
	}
	if _, err := ReadFile(tampered); !errors.Is(err, ErrDamagedStub) {
		t.Errorf("ReadFile of a note whose actions no longer match its stub = %v, want ErrDamagedStub", err)
	}

	if res, err := Remove(path, Options{}); err != nil || !res.Exact {
		t.Fatalf("Remove = %+v, %v", res, err)
	}
	if !bytes.Equal(mustRead(t, path), orig) {
		t.Error("Remove of the embedded stamp with actions did not give the original back")
	}
}
