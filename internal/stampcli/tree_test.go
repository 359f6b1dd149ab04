package stampcli

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
)

// machineFile is an ELF file of this machine that the stamper can stamp.
type machineFile struct {
	path string // on the machine
	dir  string // where its copies go in a tree: usr/bin, usr/sbin or usr/lib
	b    []byte
	mode fs.FileMode
}

// machineELF returns up to max regular ELF files of at most maxSize bytes
// from each of /usr/bin, /usr/sbin and /usr/lib (searched in walk order,
// so the same machine gives the same files), leaving out those the
// stamper refuses (appended data, packed, relocatable: elfnote's sweep test
// is about those).
func machineELF(t *testing.T, max int, maxSize int64) []machineFile {
	t.Helper()
	var files []machineFile
	for _, dir := range []string{"/usr/bin", "/usr/sbin", "/usr/lib"} {
		n := 0
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			fi, err := d.Info()
			if err != nil || fi.Size() > maxSize || fi.Size() < 64 {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil || string(b[:4]) != "\x7fELF" {
				return nil
			}
			f, err := elfnote.Read(strings.NewReader(string(b)))
			if err != nil || f.Stamped {
				return nil
			}
			if _, err := elfnote.PlanStamp(strings.NewReader(string(b)), bitmap.NewSet(f.ABI, 59)); err != nil {
				return nil
			}
			files = append(files, machineFile{p, strings.TrimPrefix(dir, "/"), b, fi.Mode().Perm()})
			if n++; n == max {
				return fs.SkipAll
			}
			return nil
		})
	}
	return files
}

// TestThousandFiles stamps a tree of 1,000 copies of this machine's
// executables and libraries in one call, and checks it in one call (SPEC
// section 6, issue 12): every file stamped with its rules' options, every
// one passing the gate, and the gate's output the same for -j 1 and the
// default -j.
func TestThousandFiles(t *testing.T) {
	const total = 1000
	start := time.Now()
	corpus := machineELF(t, 200, 64<<10)
	if len(corpus) < 50 {
		t.Fatalf("found only %d stampable ELF files of at most 64 KiB in /usr/bin, /usr/sbin and /usr/lib", len(corpus))
	}
	root := filepath.Join(t.TempDir(), "root")
	for i := range total {
		f := corpus[i%len(corpus)]
		p := filepath.Join(root, f.dir, fmt.Sprintf("%04d-%s", i, filepath.Base(f.path)))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.b, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	pol := filepath.Join(t.TempDir(), "tree.sysrestrict")
	writePolicy(t, pol, `usr/bin/*    --deny @mount,@debug,@io-uring
usr/sbin/*   --deny @mount
usr/lib/*    --deny @debug
usr/bin/00*  --deny kexec_load
`)
	t.Logf("%d distinct files from this machine, %d copies written in %v", len(corpus), total, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	code, stdout, stderr := stampRun(t, "-q", "--policy", pol, "--root", root)
	if code != 0 || stdout != "" {
		t.Fatalf("stamping the tree = %d\n%s%s", code, stdout, stderr)
	}
	t.Logf("stamped %d files in one call (-j %d) in %v", total, runtime.NumCPU(), time.Since(start).Round(time.Millisecond))

	start = time.Now()
	code, stdout, stderr = stampRun(t, "--check", "--strict", "--policy", pol, "--root", root)
	if code != 0 || strings.Count(stdout, ": ok\n") != total {
		t.Fatalf("checking the tree = %d, %d ok\n%s", code, strings.Count(stdout, ": ok\n"), stderr)
	}
	t.Logf("checked them in one call in %v", time.Since(start).Round(time.Millisecond))
	// Each file has its own rules' options, and only those.
	for i := range total {
		f := corpus[i%len(corpus)]
		p := filepath.Join(root, f.dir, fmt.Sprintf("%04d-%s", i, filepath.Base(f.path)))
		got, _ := readSet(t, p)
		abi := got.ABI()
		for name, want := range map[string]bool{
			"mount":      f.dir != "usr/lib",
			"ptrace":     f.dir != "usr/sbin",
			"kexec_load": f.dir == "usr/bin" && i < 100,
			"execve":     false,
		} {
			if nr := abi.Lookup(name); len(nr) > 0 && got.Has(nr[0]) != want {
				t.Errorf("%s (%s): %s restricted: %v, want %v", p, abi, name, !want, want)
			}
		}
	}
	if code, one, _ := stampRun(t, "-j", "1", "--check", "--strict", "--policy", pol, "--root", root); code != 0 || one != stdout {
		t.Errorf("--check -j 1 = %d and says otherwise than the default -j", code)
	}
}
