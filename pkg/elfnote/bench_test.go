//go:build linux

package elfnote

import (
	"crypto/rand"
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// BenchmarkRead is the loader's cost: read the headers and the note of a
// stamped binary through an open file.
func BenchmarkRead(b *testing.B) {
	p := filepath.Join(b.TempDir(), "x86_64-pie")
	copyFile(b, filepath.Join(fixtureDir, "x86_64-pie"), p)
	if _, err := Stamp(p, bitmap.NewSet(bitmap.X86_64, 59), Options{}); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.ReportAllocs()
	for b.Loop() {
		if ef, err := Read(f); err != nil || !ef.Stamped {
			b.Fatal(ef, err)
		}
	}
}

// largeBinary links a program with 120 MiB of random data in .rodata.
func largeBinary(b *testing.B, dir string) string {
	needTool(b, "gcc")
	blob := filepath.Join(dir, "blob.bin")
	data := make([]byte, 120<<20)
	rand.Read(data)
	if err := os.WriteFile(blob, data, 0o644); err != nil {
		b.Fatal(err)
	}
	src := filepath.Join(dir, "big.c")
	os.WriteFile(src, []byte("extern const char _binary_blob_bin_start[];\nint main(void){return _binary_blob_bin_start[0] & 0;}\n"), 0o644)
	for _, args := range [][]string{
		{"ld", "-r", "-b", "binary", "-o", "blob.o", "blob.bin"},
		{"objcopy", "--rename-section", ".data=.rodata,alloc,load,readonly,data,contents", "blob.o"},
		{"gcc", "-O2", "-o", "big", "big.c", "blob.o"},
	} {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	os.Remove(blob)
	os.Remove(filepath.Join(dir, "blob.o"))
	return filepath.Join(dir, "big")
}

// BenchmarkLarge compares stamping a 120 MiB binary with cp(1) and with
// objcopy --add-section of the same note on the same file, in one run:
// the MB/s figures are comparable. "stamp" writes a new file (copy, patch,
// fsync, rename); "stamp-in-place" adds a bit to an existing note.
func BenchmarkLarge(b *testing.B) {
	dir := b.TempDir()
	big := largeBinary(b, dir)
	fi, _ := os.Stat(big)
	out := filepath.Join(dir, "out")
	run := func(b *testing.B, argv ...string) {
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			b.Fatalf("%v: %v\n%s", argv, err, out)
		}
	}
	b.Run("cp", func(b *testing.B) {
		b.SetBytes(fi.Size())
		for b.Loop() {
			run(b, "cp", big, out)
		}
	})
	b.Run("cp+sync", func(b *testing.B) {
		b.SetBytes(fi.Size())
		for b.Loop() {
			run(b, "cp", big, out)
			run(b, "sync", out)
		}
	})
	b.Run("stamp", func(b *testing.B) {
		b.SetBytes(fi.Size())
		for i := 0; b.Loop(); i++ {
			if _, err := Stamp(big, bitmap.NewSet(bitmap.X86_64, i%512), Options{Output: out, Replace: true}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("objcopy", func(b *testing.B) {
		if _, err := exec.LookPath("objcopy"); err != nil {
			b.Skip("objcopy is not installed")
		}
		note := filepath.Join(dir, "note.bin")
		os.WriteFile(note, encodeNote(binary.LittleEndian, bitmap.NewSet(bitmap.X86_64, 59), nil, nil, nil), 0o644)
		b.SetBytes(fi.Size())
		for b.Loop() {
			run(b, "objcopy", "--add-section", ".note.sysrestrict="+note, "--set-section-flags", ".note.sysrestrict=alloc,readonly", big, out)
		}
	})
	b.Run("stamp-in-place", func(b *testing.B) {
		copyBig(b, big, out)
		if _, err := Stamp(out, bitmap.NewSet(bitmap.X86_64, 0), Options{}); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(fi.Size())
		for i := 0; b.Loop(); i++ {
			res, err := Stamp(out, bitmap.NewSet(bitmap.X86_64, i%512), Options{})
			if err != nil || (res.Changed && !res.InPlace) {
				b.Fatal(res, err)
			}
		}
	})
}

func copyBig(b *testing.B, src, dst string) {
	s, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	d, err := os.Create(dst)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	if _, err := io.Copy(d, s); err != nil {
		b.Fatal(err)
	}
}
