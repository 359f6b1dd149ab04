package elfnote

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// readelfBuildID is what binutils' readelf -n says the file's GNU build
// ID is ("" for none): the reference ReadIdentity is checked against.
func readelfBuildID(t *testing.T, path string) string {
	t.Helper()
	readelf, err := exec.LookPath("readelf")
	if err != nil {
		t.Fatalf("readelf (binutils) is needed: %v", err)
	}
	out, _ := exec.Command(readelf, "-n", path).Output()
	if m := regexp.MustCompile(`Build ID: ([0-9a-f]+)`).FindSubmatch(out); m != nil {
		return "gnu:" + string(m[1])
	}
	return ""
}

// TestReadIdentityFixtures reads the identity of every ELF fixture, as it
// is and stamped: the build ID readelf sees, and the size of the file
// before it was stamped.
func TestReadIdentityFixtures(t *testing.T) {
	seen := map[bool]bool{}
	for _, fx := range loadFixtures(t) {
		if fx.Expect == "not-elf" || fx.Expect == "truncated" || fx.Expect == "phdrs-out-of-range" {
			continue
		}
		t.Run(fx.File, func(t *testing.T) {
			path := filepath.Join(fixtureDir, fx.File)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			id, err := ReadIdentity(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("ReadIdentity(%s): %v", fx.File, err)
			}
			want := readelfBuildID(t, path)
			if id.BuildID != want || id.Size != int64(len(b)) {
				t.Errorf("ReadIdentity(%s) = %+v, want build ID %q (readelf -n), size %d", fx.File, id, want, len(b))
			}
			seen[want != ""] = true
			if fx.Expect != "stampable" {
				return
			}
			p, err := PlanStamp(bytes.NewReader(b), bitmap.NewSet(bitmap.Unknown, 59, 101))
			if err != nil {
				t.Fatalf("PlanStamp(%s): %v", fx.File, err)
			}
			stamped := p.Apply(bytes.Clone(b))
			got, err := ReadIdentity(bytes.NewReader(stamped))
			if err != nil || got != id {
				t.Errorf("ReadIdentity(stamped %s) = %+v, %v; want %+v, the unstamped file's (stamped size %d)", fx.File, got, err, id, len(stamped))
			}
		})
	}
	if !seen[true] || !seen[false] {
		t.Errorf("fixtures with a build ID: %v, without: %v; want both", seen[true], seen[false])
	}
}

// TestReadIdentityGo: a Go program without a GNU build ID is identified
// by its Go build ID, as `go tool buildid` prints it.
func TestReadIdentityGo(t *testing.T) {
	path := filepath.Join(fixtureDir, "go-internal")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go is needed: %v", err)
	}
	out, err := exec.Command(goTool, "tool", "buildid", path).Output()
	if err != nil {
		t.Fatalf("go tool buildid: %v", err)
	}
	want := "go:" + strings.TrimSpace(string(out))
	// Turn the GNU build ID note into a note of another type.
	binary.LittleEndian.PutUint32(b[gnuNote(t, b, ntGNUBuildID)-4:], 0x4242)
	id, err := ReadIdentity(bytes.NewReader(b))
	if err != nil || id.BuildID != want {
		t.Errorf("ReadIdentity(go-internal without its GNU note) = %+v, %v; want %s", id, err, want)
	}
}

// TestReadIdentityHostile: a damaged or unknown sysrestrict note does not
// hide the build ID; a file that is no ELF file is an error; a note that
// overruns its segment ends the search there.
func TestReadIdentityHostile(t *testing.T) {
	for _, name := range []string{"x86_64-note-bad-flags", "x86_64-note-bad-type"} {
		id, err := ReadIdentity(mustOpen(t, filepath.Join(fixtureDir, name)))
		if want := readelfBuildID(t, filepath.Join(fixtureDir, name)); err != nil || id.BuildID != want || want == "" {
			t.Errorf("ReadIdentity(%s) = %+v, %v; want build ID %q", name, id, err, want)
		}
	}
	if _, err := ReadIdentity(mustOpen(t, filepath.Join(fixtureDir, "not-elf-script"))); !errors.Is(err, ErrNotELF) {
		t.Errorf("ReadIdentity(not-elf-script) error = %v, want ErrNotELF", err)
	}
	b, err := os.ReadFile(filepath.Join(fixtureDir, "x86_64-pie"))
	if err != nil {
		t.Fatal(err)
	}
	// The build ID note now overruns its segment and section: it is not
	// read, and that is no error.
	i := gnuNote(t, b, ntGNUBuildID)
	binary.LittleEndian.PutUint32(b[i-8:], 0xfffffff0)
	if id, err := ReadIdentity(bytes.NewReader(b)); err != nil || id.BuildID != "" || id.Size != int64(len(b)) {
		t.Errorf("ReadIdentity(descsz 0xfffffff0) = %+v, %v; want no build ID, size %d, no error", id, err, len(b))
	}
}

// gnuNote returns the offset of the name of the first note with owner GNU
// and type typ in b.
func gnuNote(t *testing.T, b []byte, typ uint32) int {
	t.Helper()
	for i := 0; ; i++ {
		j := bytes.Index(b[i:], []byte("GNU\x00"))
		if j < 0 {
			t.Fatalf("no GNU note of type %d", typ)
		}
		i += j
		if i >= 12 && binary.LittleEndian.Uint32(b[i-12:]) == 4 && binary.LittleEndian.Uint32(b[i-4:]) == typ {
			return i
		}
	}
}

func mustOpen(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func FuzzReadIdentity(f *testing.F) {
	fuzzSeeds(f, func(b []byte) { f.Add(b) })
	f.Fuzz(func(t *testing.T, data []byte) {
		id, err := ReadIdentity(bytes.NewReader(data))
		if err != nil {
			mustClassify(t, err)
			return
		}
		if id.Size < 0 || id.Size > int64(len(data)) || len(id.BuildID) > 4+2*maxBuildID {
			t.Fatalf("ReadIdentity = %+v for %d bytes", id, len(data))
		}
	})
}
