//go:build linux

package elfnote

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// TestRepair damages a stamp the way later tools can (a PT_NOTE dropped,
// a PT_NOTE pointing elsewhere, a section moved): the reader refuses the
// file with ErrBadNote, stamping again repairs it keeping the damaged
// note's restrictions, and Remove removes both the damaged and the
// repaired stamp.
func TestRepair(t *testing.T) {
	damages := []struct {
		name   string
		damage func(im *image, b []byte)
	}{
		{"PT_NOTE dropped", func(im *image, b []byte) {
			clear(b[im.phoff+uint64(im.note.Prog*im.phentsize):][:im.phentsize])
		}},
		{"PT_NOTE address", func(im *image, b []byte) {
			p := im.progs[im.note.Prog]
			p.Vaddr += 0x1000
			im.encodeProg(b[im.phoff+uint64(im.note.Prog*im.phentsize):], p)
		}},
		{"section moved", func(im *image, b []byte) {
			s := im.sects[im.note.Section]
			s.Off -= 8
			im.encodeSect(b[im.shoff+uint64(im.note.Section*im.shentsize):], s)
		}},
	}
	stamped := bitmap.NewSet(bitmap.X86_64, 59, 101)
	for _, fx := range []string{"x86_64-pie", "x86_64-musl-static", "x86_64-pie-lld"} {
		for _, d := range damages {
			t.Run(fx+"/"+d.name, func(t *testing.T) {
				p := tempFixture(t, fx)
				if _, err := Stamp(p, stamped, Options{}); err != nil {
					t.Fatal(err)
				}
				b := mustRead(t, p)
				im, err := parseFile(p)
				if err != nil {
					t.Fatal(err)
				}
				d.damage(im, b)
				if err := os.WriteFile(p, b, 0o755); err != nil {
					t.Fatal(err)
				}
				if _, err := ReadFile(p); !errors.Is(err, ErrBadNote) {
					t.Fatalf("ReadFile of a damaged stamp = %v, want ErrBadNote", err)
				}
				damaged := filepath.Join(t.TempDir(), "damaged")
				copyFile(t, p, damaged)

				res, err := Stamp(p, bitmap.NewSet(bitmap.X86_64, 62), Options{})
				if err != nil {
					t.Fatalf("Stamp of a damaged stamp: %v", err)
				}
				want := stamped.Union(bitmap.NewSet(bitmap.X86_64, 62))
				f, err := ReadFile(p)
				if err != nil || !f.Set.Equal(want) || !res.Before.Equal(stamped) {
					t.Fatalf("after repair: %v, %v (before %v); want %v", f, err, res.Before, want)
				}
				t.Logf("repaired with strategy %v", res.Strategy)
				out := run(filepath.Dir(p), 20*time.Second, nil, "./"+fx)
				if out.Exit != 0 || out.Err != "" {
					t.Errorf("the repaired %s does not run: %+v", fx, out)
				}
				// Removing the repaired stamp gives a file without the note
				// that runs, but not the original: the record says so.
				if res, err := Remove(p, Options{}); err != nil || res.Exact {
					t.Errorf("Remove of a repaired stamp = %+v, %v; want a removal that is not exact", res, err)
				}
				if f, err := ReadFile(p); err != nil || f.Stamped {
					t.Errorf("after Remove of a repaired stamp: %+v, %v", f, err)
				}
				if out := run(filepath.Dir(p), 20*time.Second, nil, "./"+fx); out.Exit != 0 || out.Err != "" {
					t.Errorf("%s with its repaired stamp removed does not run: %+v", fx, out)
				}
				if _, err := Remove(damaged, Options{}); err != nil {
					t.Fatalf("Remove of a damaged stamp: %v", err)
				}
				if f, err := ReadFile(damaged); err != nil || f.Stamped {
					t.Errorf("after Remove of a damaged stamp: %+v, %v", f, err)
				}
				if im, _ := parseFile(damaged); im != nil {
					b := mustRead(t, damaged)
					for _, pr := range im.progs {
						if pr.Type != ptNote || pr.Off+pr.Filesz > uint64(len(b)) {
							continue
						}
						if ns, err := scanNotes(b[pr.Off:pr.Off+pr.Filesz], int64(pr.Off), pr.Align, im.bo); err != nil || ns.ours > 0 {
							t.Errorf("a sysrestrict PT_NOTE is left after Remove (%v)", err)
						}
					}
				}
			})
		}
	}
}
