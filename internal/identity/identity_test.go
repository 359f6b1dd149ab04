package identity

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
	"github.com/sysrestrict/sysrestrict/pkg/profile"
)

func of(t *testing.T, path string) profile.ID {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	id, err := Of(f, path)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func copyFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../testdata/elf", name))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOf: a file with a build ID is known by it alone; one without by its
// size before stamping, which a stamp does not change; a file that is no
// ELF file by its size.
func TestOf(t *testing.T) {
	pie := copyFixture(t, "x86_64-pie")
	if id := of(t, pie); id.Path != pie || !strings.HasPrefix(id.BuildID, "gnu:") || id.Size != 0 {
		t.Errorf("Of(x86_64-pie) = %+v, want its GNU build ID and no size", id)
	}
	musl := copyFixture(t, "x86_64-musl-static")
	fi, err := os.Stat(musl)
	if err != nil {
		t.Fatal(err)
	}
	before := of(t, musl)
	if before.BuildID != "" || before.Size != fi.Size() {
		t.Errorf("Of(x86_64-musl-static) = %+v, want no build ID, size %d", before, fi.Size())
	}
	if _, err := elfnote.Stamp(musl, bitmap.NewSet(bitmap.X86_64, 101), elfnote.Options{}); err != nil {
		t.Fatal(err)
	}
	if fi2, _ := os.Stat(musl); fi2.Size() == fi.Size() {
		t.Fatalf("stamping did not change the size (%d): not a test of the undo record's size", fi.Size())
	}
	if after := of(t, musl); after != before {
		t.Errorf("Of(stamped x86_64-musl-static) = %+v, want %+v, the unstamped file's", after, before)
	}
	script := copyFixture(t, "not-elf-script")
	fi, _ = os.Stat(script)
	if id := of(t, script); id.BuildID != "" || id.Size != fi.Size() {
		t.Errorf("Of(not-elf-script) = %+v, want size %d", id, fi.Size())
	}
}
