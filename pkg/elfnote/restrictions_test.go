//go:build linux

package elfnote

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// TestReadRestrictions: the loader's reader agrees with Read on every
// fixture, stamped and not, and differs only in not checking the contents
// of the undo record.
func TestReadRestrictions(t *testing.T) {
	for _, fx := range loadFixtures(t) {
		for _, stamped := range []bool{false, true} {
			b := mustRead(t, filepath.Join(fixtureDir, fx.File))
			if stamped && fx.Expect == "stampable" {
				p := tempFixture(t, fx.File)
				if _, err := Stamp(p, bitmap.NewSet(bitmap.X86_64, 59), Options{}); err != nil {
					t.Fatal(err)
				}
				b = mustRead(t, p)
			}
			f1, err1 := Read(bytes.NewReader(b))
			f2, err2 := ReadRestrictions(bytes.NewReader(b))
			if fmt.Sprint(err1) != fmt.Sprint(err2) || (f1 == nil) != (f2 == nil) || f1 != nil && (f1.Stamped != f2.Stamped || !f1.Set.Equal(f2.Set)) {
				t.Errorf("%s (stamped %v): Read = %v, %v; ReadRestrictions = %v, %v", fx.File, stamped, f1, err1, f2, err2)
			}
		}
	}
	// A record whose first entry's reserved bytes are set: Read refuses it,
	// ReadRestrictions reads the same restrictions.
	p := tempFixture(t, "x86_64-pie")
	if _, err := Stamp(p, bitmap.NewSet(bitmap.X86_64, 59), Options{}); err != nil {
		t.Fatal(err)
	}
	b := mustRead(t, p)
	f, _ := Read(bytes.NewReader(b))
	if f.Note.UndoOff == 0 {
		t.Fatal("the stamp has no undo record")
	}
	b[f.Note.UndoOff+undoHeadSize+2] = 1
	if _, err := Read(bytes.NewReader(b)); !errors.Is(err, ErrBadNote) {
		t.Errorf("Read of a corrupt undo record = %v, want ErrBadNote", err)
	}
	if f2, err := ReadRestrictions(bytes.NewReader(b)); err != nil || !f2.Set.Equal(f.Set) {
		t.Errorf("ReadRestrictions of a corrupt undo record = %v, %v; want the set %v", f2, err, f.Set)
	}
}
