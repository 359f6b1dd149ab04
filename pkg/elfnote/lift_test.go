package elfnote

import (
	"path/filepath"
	"testing"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
)

// TestStampLift: Options.Lift takes named syscalls out of the union with
// the note already there (or out of a Replace), and never DENY_BEYOND.
func TestStampLift(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prog")
	copyFile(t, "../../testdata/elf/x86_64-pie", path)
	allow := bitmap.NewSet(bitmap.X86_64, 0, 1, 2, 3, 59)
	allow.SetDenyBeyond(true)
	if _, err := Stamp(path, allow, Options{}); err != nil {
		t.Fatal(err)
	}
	lift := bitmap.NewSet(bitmap.X86_64, 1, 59)
	lift.SetDenyBeyond(true) // ignored: an allowlist stays one
	res, err := Stamp(path, bitmap.NewSet(bitmap.X86_64, 4), Options{Lift: lift})
	want := bitmap.NewSet(bitmap.X86_64, 0, 2, 3, 4)
	want.SetDenyBeyond(true)
	if err != nil || !res.Before.Equal(allow) || !res.After.Equal(want) {
		t.Fatalf("Stamp(+4, Lift 1,59) = %+v, %v; want %v after %v", res, err, want, allow)
	}
	if f, err := ReadFile(path); err != nil || !f.Set.Equal(want) {
		t.Errorf("ReadFile after the Lift = %v, %v; want %v", f.Set, err, want)
	}
	res, err = Stamp(path, bitmap.NewSet(bitmap.X86_64, 7, 8), Options{Replace: true, Lift: bitmap.NewSet(bitmap.X86_64, 8)})
	if want := bitmap.NewSet(bitmap.X86_64, 7); err != nil || !res.After.Equal(want) {
		t.Errorf("Stamp(=7,8, Replace, Lift 8) = %+v, %v; want %v", res, err, want)
	}
}

// TestStampLiftAction: a lifted syscall's action override goes with its
// restriction; the others' stay.
func TestStampLiftAction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prog")
	copyFile(t, "../../testdata/elf/x86_64-pie", path)
	set := bitmap.NewSet(bitmap.X86_64, 56, 435, 59)
	act := Actions{Overrides: map[int]filter.Action{435: filter.Errno(38), 59: filter.Log()}}
	if _, err := Stamp(path, set, Options{Actions: act}); err != nil {
		t.Fatal(err)
	}
	res, err := Stamp(path, bitmap.NewSet(bitmap.X86_64), Options{Lift: bitmap.NewSet(bitmap.X86_64, 435)})
	if err != nil {
		t.Fatalf("Stamp(Lift clone3) = %v", err)
	}
	want := Actions{Overrides: map[int]filter.Action{59: filter.Log()}}
	if !res.After.Equal(bitmap.NewSet(bitmap.X86_64, 56, 59)) || !res.AfterActions.Equal(want) {
		t.Errorf("after lifting clone3: %v, %s; want {clone,execve}, %s", res.After, res.AfterActions.Describe(bitmap.X86_64), want.Describe(bitmap.X86_64))
	}
}
