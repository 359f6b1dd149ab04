package elfnote

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// TestFixtures stamps, re-stamps and unstamps every stampable fixture of
// testdata/elf and checks the result with readelf, eu-elflint and by
// running it; the other fixtures must be refused with the right error.
func TestFixtures(t *testing.T) {
	var mu sync.Mutex
	took := map[Strategy][]string{}
	t.Run("group", func(t *testing.T) {
		for _, fx := range loadFixtures(t) {
			t.Run(fx.File, func(t *testing.T) {
				t.Parallel()
				if fx.Expect != "stampable" {
					testRefused(t, fx)
					return
				}
				s := testRoundTrip(t, fx)
				mu.Lock()
				took[s] = append(took[s], fx.File)
				mu.Unlock()
				if why := cannotRun(t, fx); why != "" {
					t.Skipf("stamped, re-stamped and removed, checked by readelf and eu-elflint, but not run: %s", why)
				}
			})
		}
	})
	for _, s := range []Strategy{StrategyRewrite, StrategyReuse, StrategyMoveTable, StrategyAppend} {
		t.Logf("strategy %v: %s", s, strings.Join(took[s], ", "))
		if len(took[s]) == 0 {
			t.Errorf("no fixture took strategy %v", s)
		}
	}
}

func testRefused(t *testing.T, fx fixture) {
	path := filepath.Join(t.TempDir(), fx.File)
	copyFile(t, filepath.Join(fixtureDir, fx.File), path)
	orig, _ := os.ReadFile(path)
	_, err := Stamp(path, bitmap.NewSet(bitmap.X86_64, 59), Options{})
	var fe *FormatError
	var ok bool
	switch fx.Expect {
	case "appended-data":
		ok = errors.Is(err, ErrAppendedData)
	case "not-elf":
		ok = errors.Is(err, ErrNotELF)
	case "truncated", "phdrs-out-of-range":
		ok = errors.As(err, &fe)
	case "core", "relocatable":
		ok = errors.Is(err, ErrUnsupported)
	case "bad-note":
		ok = errors.Is(err, ErrBadNote)
		f, rerr := ReadFile(path)
		if !errors.Is(rerr, ErrBadNote) {
			t.Errorf("ReadFile(%s) = %v, want ErrBadNote", fx.File, rerr)
		}
		if f == nil || f.Stamped || f.ABI != bitmap.X86_64 {
			t.Errorf("ReadFile(%s) = %+v with ErrBadNote, want the headers without a note", fx.File, f)
		}
	default:
		t.Fatalf("unknown expectation %q", fx.Expect)
	}
	if !ok {
		t.Errorf("Stamp(%s) = %v, want an error for %s", fx.File, err, fx.Expect)
	}
	t.Logf("refused: %v", err)
	if now, _ := os.ReadFile(path); !bytes.Equal(now, orig) {
		t.Errorf("Stamp(%s) failed but changed the file", fx.File)
	}
	assertNoTemp(t, filepath.Dir(path))
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".sysrestrict-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func testRoundTrip(t *testing.T, fx fixture) Strategy {
	abi, err := bitmap.ParseABI(fx.ABI)
	if err != nil {
		abi = bitmap.Unknown
	}
	origDir, dir := t.TempDir(), t.TempDir()
	src := filepath.Join(fixtureDir, fx.File)
	copyFile(t, src, filepath.Join(origDir, fx.File))
	path := filepath.Join(dir, fx.File)
	copyFile(t, src, path)
	orig, _ := os.ReadFile(src)

	before, err := ReadFile(path)
	if err != nil {
		t.Fatalf("ReadFile: %v", err)
	}
	if before.ABI != abi {
		t.Errorf("ReadFile(%s).ABI = %v, want %v", fx.File, before.ABI, abi)
	}
	want := bitmap.NewSet(abi)
	if fx.Note != nil {
		want = bitmap.NewSet(abi, fx.Note.Deny...)
		want.SetDenyBeyond(fx.Note.DenyBeyond)
	}
	if !before.Set.Equal(want) || before.Stamped != (fx.Note != nil) {
		t.Errorf("ReadFile(%s) = stamped %v %v, want %v %v", fx.File, before.Stamped, before.Set, fx.Note != nil, want)
	}

	// Stamp: the union of what is there and {59, 60, 101}.
	set := bitmap.NewSet(abi, 59, 60, 101)
	res, err := Stamp(path, set, Options{})
	if err != nil {
		t.Fatalf("Stamp: %v", err)
	}
	want = want.Union(set)
	took := res.Strategy
	t.Logf("%s: strategy %v", fx.File, took)
	after, err := ReadFile(path)
	if err != nil {
		t.Fatalf("ReadFile after Stamp: %v", err)
	}
	if !after.Stamped || !after.Set.Equal(want) || !res.After.Equal(want) {
		t.Fatalf("after Stamp: ReadFile = %v %v, Result.After %v; want %v", after.Stamped, after.Set, res.After, want)
	}
	stamped, _ := os.ReadFile(path)
	if fx.Note == nil {
		readelfNote(t, path, after.Note, hasSections(t, path))
		if extra := newLint(t, filepath.Join(origDir, fx.File), path); len(extra) > 0 {
			t.Errorf("eu-elflint reports for the stamped file what it did not for the original:\n%s", strings.Join(extra, "\n"))
		}
	}
	sameRun(t, fx, origDir, dir, true)

	// Deterministic: another copy stamped the same way is byte-identical.
	path2 := filepath.Join(t.TempDir(), fx.File)
	copyFile(t, src, path2)
	if _, err := Stamp(path2, set, Options{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path2); !bytes.Equal(b, stamped) {
		t.Errorf("stamping %s twice from the original gave different bytes", fx.File)
	}
	// Stamping again with the same set writes nothing.
	fi0, _ := os.Stat(path)
	if res, err := Stamp(path, set, Options{}); err != nil || res.Changed || res.Output != "" {
		t.Errorf("re-Stamp with the same set = %+v, %v; want no change", res, err)
	}
	if fi1, _ := os.Stat(path); !os.SameFile(fi0, fi1) || !fi0.ModTime().Equal(fi1.ModTime()) {
		t.Errorf("re-Stamp with the same set touched the file")
	}

	// Merge: adding bits is an in-place rewrite.
	res, err = Stamp(path, bitmap.NewSet(abi, 62), Options{})
	want = want.Union(bitmap.NewSet(abi, 62))
	if err != nil || !res.After.Equal(want) || res.Strategy != StrategyRewrite || !res.InPlace {
		t.Errorf("Stamp(+62) = %+v, %v; want %v in place", res, err, want)
	}
	// Replace: loosening goes through a new file.
	repl := bitmap.NewSet(abi, 62)
	repl.SetDenyBeyond(true)
	if fx.Note != nil && !fx.Note.DenyBeyond {
		// A note linked in without a flags note has no room for one.
		if _, err := Stamp(path, repl, Options{Replace: true}); !errors.Is(err, ErrUnsupported) {
			t.Errorf("Stamp(DENY_BEYOND) on a note without a flags note = %v, want ErrUnsupported", err)
		}
		repl.SetDenyBeyond(false)
	}
	res, err = Stamp(path, repl, Options{Replace: true})
	if err != nil || res.InPlace {
		t.Fatalf("Stamp(=62, Replace) = %+v, %v; want a rewrite through a new file", res, err)
	}
	if f, err := ReadFile(path); err != nil || !f.Set.Equal(repl) {
		t.Errorf("after Replace: ReadFile = %v, %v; want %v", f.Set, err, repl)
	}

	// Remove: the original again, byte for byte where the headers allow.
	res, err = Remove(path, Options{})
	if fx.Note != nil {
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("Remove of a note linked in at build time = %v, want ErrUnsupported", err)
		}
		return took
	}
	if err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if f, err := ReadFile(path); err != nil || f.Stamped {
		t.Errorf("after Remove: ReadFile = %+v, %v; want no note", f, err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, orig) {
		if res.Exact {
			t.Errorf("Remove said Exact but the file differs from the original")
		} else {
			t.Logf("Remove: not byte-identical to the original (size %d, was %d)", len(b), len(orig))
		}
		sameRun(t, fx, origDir, dir, false)
	}
	if _, err := Remove(path, Options{}); !errors.Is(err, ErrNoNote) {
		t.Errorf("second Remove = %v, want ErrNoNote", err)
	}
	return took
}

func hasSections(t *testing.T, path string) bool {
	im, err := parseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return len(im.sects) > 0
}

func parseFile(path string) (*image, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parse(bytes.NewReader(b))
}

// newLint returns eu-elflint's messages about stamped that it does not give
// about orig.
func newLint(t *testing.T, orig, stamped string) []string {
	before, after := elflint(t, orig), elflint(t, stamped)
	var extra []string
	for m := range after {
		if !before[m] {
			extra = append(extra, m)
		}
	}
	sort.Strings(extra)
	return extra
}

// sameRun runs the fixture from origDir and from dir the way the manifest
// says and compares what they do: output, exit status, the notes the
// program reads from its own memory, ld.so's trace.
func sameRun(t *testing.T, fx fixture, origDir, dir string, stamped bool) {
	t.Helper()
	prog, argv := fx.File, fx.Run
	if fx.File == "libhello.so" {
		// Run the program that uses the library from the same directory.
		for _, d := range []string{origDir, dir} {
			copyFile(t, filepath.Join(fixtureDir, "x86_64-uselib"), filepath.Join(d, "x86_64-uselib"))
		}
		prog, argv = "x86_64-uselib", []string{}
	}
	if fx.File == "x86_64-uselib" {
		for _, d := range []string{origDir, dir} {
			copyFile(t, filepath.Join(fixtureDir, "libhello.so"), filepath.Join(d, "libhello.so"))
		}
	}
	for _, lib := range fx.Beside {
		for _, d := range []string{origDir, dir} {
			copyFile(t, filepath.Join(fixtureDir, lib), filepath.Join(d, lib))
		}
	}
	if argv == nil {
		t.Logf("%s cannot run here; not run", fx.File)
		return
	}
	if cannotRun(t, fx) != "" {
		return // TestFixtures skips the fixture, saying why, once its other checks are done
	}
	if len(argv) > 0 {
		needTool(t, argv[0])
	}
	cmdline := func(args ...string) []string {
		return slices.Concat(argv, []string{"./" + prog}, args)
	}
	compare := func(what string, env []string, args []string, filter func(string) string) runOut {
		a := run(origDir, 20*time.Second, env, cmdline(args...)...)
		b := run(dir, 20*time.Second, env, cmdline(args...)...)
		a.Stdout, b.Stdout = filter(a.Stdout), filter(b.Stdout)
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("%s: stamped %s runs differently (-original +stamped):\n%s", what, fx.File, diff)
		}
		return a
	}
	id := func(s string) string { return s }
	out := compare("run", nil, fx.Args, id)
	if prog == fx.File && (out.Stdout != fx.Stdout || out.Exit != fx.Exit) {
		t.Errorf("original %s printed %q, exit %d; the manifest says %q, %d", fx.File, out.Stdout, out.Exit, fx.Stdout, fx.Exit)
	}
	if len(fx.SelfNotes) > 0 && prog == fx.File {
		a := run(origDir, 20*time.Second, nil, cmdline("notes")...)
		b := run(dir, 20*time.Second, nil, cmdline("notes")...)
		got := noteLines(b.Stdout)
		var wantLines []string
		wantLines = append(wantLines, noteLines(a.Stdout)...)
		if stamped && !slices.Contains(wantLines, "note SysRestrict 1 64") {
			wantLines = append(wantLines, "note SysRestrict 1 64", "note SysRestrict 2 4")
			if n := undoDescsz(t, filepath.Join(dir, prog)); n > 0 {
				wantLines = append(wantLines, fmt.Sprintf("note SysRestrict %d %d", NT_SYSRESTRICT_UNDO, n))
			}
		}
		sort.Strings(got)
		sort.Strings(wantLines)
		if diff := cmp.Diff(wantLines, got); diff != "" {
			t.Errorf("notes read from memory by the stamped %s (-want +got):\n%s", fx.File, diff)
		}
	}
	if fx.Dynamic && len(fx.Trace) > 0 && prog == fx.File {
		a := run(origDir, 20*time.Second, nil, slices.Concat(fx.Trace, []string{"./" + prog})...)
		b := run(dir, 20*time.Second, nil, slices.Concat(fx.Trace, []string{"./" + prog})...)
		norm := func(s, d string) string { return stripAddrs(strings.ReplaceAll(s, d, "DIR")) }
		if diff := cmp.Diff(norm(a.Stdout, origDir), norm(b.Stdout, dir)); diff != "" || a.Exit != b.Exit {
			t.Errorf("LD_TRACE_LOADED_OBJECTS output of the stamped %s differs (-original +stamped):\n%s", fx.File, diff)
		}
	}
}

func noteLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "note ") {
			out = append(out, l)
		}
	}
	return out
}

// undoDescsz returns the size of the undo record in the note of the file at
// path, or 0 if it has none.
func undoDescsz(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	im, err := parse(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if im.note.UndoOff == 0 {
		return 0
	}
	return int(im.bo.Uint32(b[im.note.UndoOff-nhdrSize-int64(len(ownerName))+4:]))
}
