//go:build linux

package elfnote

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sysrestrict/sysrestrict/internal/testutil"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// linked copies fixture into a new directory under three names, one file
// (hard links, two of them in a subdirectory), and returns the names.
func linked(t *testing.T, fixture string) []string {
	t.Helper()
	p := tempFixture(t, fixture)
	sub := filepath.Join(filepath.Dir(p), "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	names := []string{p, filepath.Join(sub, "a"), filepath.Join(sub, "b")}
	for _, n := range names[1:] {
		if err := os.Link(p, n); err != nil {
			t.Fatal(err)
		}
	}
	return names
}

func inode(t *testing.T, name string) (uint64, uint64) {
	t.Helper()
	fi, err := os.Lstat(name)
	if err != nil {
		t.Fatalf("after the stamp: %v", err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return st.Ino, uint64(st.Nlink)
}

// TestStampLinks: a file with several names, stamped with Options.Links,
// is one inode afterwards, with the stamped content under every name, on
// both write paths.
func TestStampLinks(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		inPlace bool
	}{
		{"x86_64-pie", false},             // a new note: the rename
		{"x86_64-note-valid-flags", true}, // bits added to a note: in place
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			names := linked(t, tc.fixture)
			ino0, _ := inode(t, names[0])
			res, err := Stamp(names[0], bitmap.NewSet(bitmap.X86_64, 59, 101, 200), Options{Links: names[1:]})
			if err != nil {
				t.Fatal(err)
			}
			if res.InPlace != tc.inPlace {
				t.Errorf("Stamp: InPlace = %v, want %v", res.InPlace, tc.inPlace)
			}
			want := mustRead(t, names[0])
			ino, nlink := inode(t, names[0])
			if nlink != 3 || (ino == ino0) != tc.inPlace {
				t.Errorf("after the stamp %s has inode %d (was %d) and %d links, want 3 links and a new inode only when replaced", names[0], ino, ino0, nlink)
			}
			for _, n := range names[1:] {
				if i, _ := inode(t, n); i != ino {
					t.Errorf("%s is inode %d, %s is %d: the names are no longer one file", n, i, names[0], ino)
				}
				if !bytes.Equal(mustRead(t, n), want) {
					t.Errorf("%s does not have the stamped content", n)
				}
			}
			f, err := ReadFile(names[1])
			if err != nil || !f.Set.Has(200) {
				t.Errorf("ReadFile(%s) = %v, %v; want the stamp", names[1], f, err)
			}
			for _, n := range names {
				if _, err := os.Lstat(tempName(n)); err == nil {
					t.Errorf("%s left behind", tempName(n))
				}
			}
		})
	}
}

// TestStampLinksRefused: a link that is not a name of the file fails the
// stamp before anything is written.
func TestStampLinksRefused(t *testing.T) {
	names := linked(t, "x86_64-pie")
	other := filepath.Join(filepath.Dir(names[0]), "other")
	copyFile(t, filepath.Join(fixtureDir, "x86_64-pie"), other)
	orig := mustRead(t, names[0])
	for _, links := range [][]string{{names[1], other}, {filepath.Join(filepath.Dir(names[0]), "missing")}} {
		_, err := Stamp(names[0], execveSet, Options{Links: links})
		if err == nil {
			t.Fatalf("Stamp with Links %v = nil error", links)
		}
		for _, n := range append(names, other) {
			if !bytes.Equal(mustRead(t, n), orig) {
				t.Errorf("Stamp with Links %v failed (%v) but changed %s", links, err, n)
			}
		}
	}
}

// TestKeepOtherNames: a file written in place changes under every name; with
// KeepOtherNames a name not in Links (a hard link outside the tree a tool
// works on) keeps the old file, and the names in Links get the new one.
func TestKeepOtherNames(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprint(keep), func(t *testing.T) {
			names := linked(t, "x86_64-note-valid-flags")
			orig := mustRead(t, names[0])
			res, err := Stamp(names[0], bitmap.NewSet(bitmap.X86_64, 200), Options{Links: names[1:2], KeepOtherNames: keep})
			if err != nil {
				t.Fatal(err)
			}
			if res.InPlace == keep {
				t.Errorf("KeepOtherNames %v: InPlace = %v", keep, res.InPlace)
			}
			stamped := mustRead(t, names[0])
			if bytes.Equal(stamped, orig) || !bytes.Equal(mustRead(t, names[1]), stamped) {
				t.Errorf("KeepOtherNames %v: the names in Links are not the stamped file", keep)
			}
			if got := bytes.Equal(mustRead(t, names[2]), orig); got != keep {
				t.Errorf("KeepOtherNames %v: the name outside Links kept the old file: %v", keep, got)
			}
		})
	}
}

// TestCrashRelink kills the stamper before each link of each hard link is
// replaced, and between linking and renaming: every name is then the
// original or the stamped file, none is missing, and the next stamp
// removes the temporary name a kill in between left.
func TestCrashRelink(t *testing.T) {
	for _, step := range []string{"rename", "relink", "relink-rename", "relink#2", "relink-rename#2"} {
		t.Run(step, func(t *testing.T) {
			if testutil.InSubprocess(t) {
				crashStamp()
			}
			names := linked(t, "x86_64-pie")
			orig := mustRead(t, names[0])
			// The step of the k-th link: the hook's steps are counted.
			cmd := crashChild(t, names[0], step)
			cmd.Env = append(cmd.Env, crashEnvLinks+"="+strings.Join(names[1:], string(filepath.ListSeparator)))
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("the stamper was not killed at %s: %v", step, err)
			}
			var stamped []bool
			for _, n := range names {
				stamped = append(stamped, checkIntact(t, n, orig, bitmap.NewSet(bitmap.X86_64)))
			}
			want := map[string][]bool{
				"rename":          {false, false, false},
				"relink":          {true, false, false}, // killed before the first link
				"relink-rename":   {true, false, false}, // the first linked to its temporary name, not renamed
				"relink#2":        {true, true, false},
				"relink-rename#2": {true, true, false},
			}[step]
			if fmt.Sprint(stamped) != fmt.Sprint(want) {
				t.Errorf("killed at %s: stamped %v, want %v", step, stamped, want)
			}
			// A kill between linking and renaming leaves the temporary
			// name of the link being replaced, and nothing else.
			var left []string
			for _, n := range names {
				if _, err := os.Lstat(tempName(n)); err == nil {
					left = append(left, tempName(n))
				}
			}
			k := map[string]int{"rename": 0, "relink-rename": 1, "relink-rename#2": 2}[step]
			var wantLeft []string
			if strings.HasSuffix(step, "rename") || strings.HasSuffix(step, "rename#2") {
				wantLeft = []string{tempName(names[k])}
			}
			if fmt.Sprint(left) != fmt.Sprint(wantLeft) {
				t.Fatalf("killed at %s: left %v, want %v", step, left, wantLeft)
			}
			// The next stamp of the name it was to replace, with the
			// names still of the same file, removes it under the lock.
			if len(left) > 0 {
				var links []string
				for i, n := range names {
					if i != k && stamped[i] == stamped[k] {
						links = append(links, n)
					}
				}
				res, err := Stamp(names[k], crashSet, Options{Links: links})
				if err != nil || !strings.Contains(res.Reclaimed, left[0]) {
					t.Fatalf("the next Stamp of %s with links %v = %+v, %v; want it to remove %s", names[k], links, res, err, left[0])
				}
				if _, err := os.Lstat(left[0]); err == nil {
					t.Errorf("%s is still there after the next stamp", left[0])
				}
			}
		})
	}
}

func TestIsTemp(t *testing.T) {
	for _, name := range []string{"/usr/bin/ls", "ls", ".sysrestrict-new", "..sysrestrict-new", "x.sysrestrict-new", ".ls.sysrestrict-new.1"} {
		if IsTemp(name) {
			t.Errorf("IsTemp(%q) = true", name)
		}
	}
	for _, name := range []string{"/usr/bin/ls", "a", "dir/with space/x"} {
		if !IsTemp(tempName(name)) {
			t.Errorf("IsTemp(tempName(%q)) = false", name)
		}
	}
}

// TestDirSynced: with Options.DirSynced the directories whose entries a
// write replaced are handed to the caller, the target's and each link's,
// and none for a write in place.
func TestDirSynced(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		inPlace bool
	}{{"x86_64-pie", false}, {"x86_64-note-valid-flags", true}} {
		names := linked(t, tc.fixture)
		var dirs []string
		_, err := Stamp(names[0], bitmap.NewSet(bitmap.X86_64, 200), Options{Links: names[1:], DirSynced: func(d string) { dirs = append(dirs, d) }})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{filepath.Dir(names[0]), filepath.Dir(names[1]), filepath.Dir(names[2])}
		if tc.inPlace {
			want = nil
		}
		if fmt.Sprint(dirs) != fmt.Sprint(want) {
			t.Errorf("%s: DirSynced got %v, want %v", tc.fixture, dirs, want)
		}
	}
}
