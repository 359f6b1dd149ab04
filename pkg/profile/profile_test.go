package profile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

func sample() *Profile {
	p := &Profile{Runs: []Run{{
		Argv: []string{"ls", "-la", "/"}, Executable: "/usr/bin/ls", ABI: bitmap.X86_64,
		Time: time.Date(2026, 11, 23, 13, 0, 0, 0, time.UTC), Status: "exit 0",
	}}}
	p.Add(bitmap.X86_64, 217, "/usr/bin/ls", 4)
	p.Add(bitmap.X86_64, 0, "/usr/bin/ls", 10)
	p.Add(bitmap.X86_64, 0, "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", 2)
	p.Add(bitmap.I386, 11, "/usr/bin/helper32", 1)
	p.Add(bitmap.X86_64, 1, "", 3)
	return p
}

func TestAddKeepsOrder(t *testing.T) {
	p := sample()
	var got []string
	for _, sc := range p.Syscalls {
		got = append(got, sc.ABI.String()+":"+sc.Name)
	}
	want := []string{"x86_64:read", "x86_64:write", "x86_64:getdents64", "i386:execve"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Add order (-want +got):\n%s", diff)
	}
	if sc := p.Syscalls[0]; sc.Count != 12 || len(sc.Executables) != 2 {
		t.Errorf("read = %+v, want count 12 and two executables", sc)
	}
	if got, want := p.ABIs(), []bitmap.ABI{bitmap.X86_64, bitmap.I386}; !cmp.Equal(got, want) {
		t.Errorf("ABIs() = %v, want %v", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	p := sample()
	var b1 bytes.Buffer
	if err := p.Write(&b1); err != nil {
		t.Fatal(err)
	}
	q, err := Read(bytes.NewReader(b1.Bytes()))
	if err != nil {
		t.Fatalf("Read(Write(p)) error: %v\n%s", err, b1.String())
	}
	if diff := cmp.Diff(p, q); diff != "" {
		t.Errorf("Read(Write(p)) (-p +got):\n%s", diff)
	}
	var b2 bytes.Buffer
	if err := q.Write(&b2); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
		t.Errorf("Write is not deterministic:\n%s\n---\n%s", b1.String(), b2.String())
	}
}

func TestMerge(t *testing.T) {
	a, b := sample(), sample()
	b.Add(bitmap.X86_64, 41, "/usr/bin/curl", 1)
	b.Runs[0].Argv = []string{"curl"}
	aBefore := sample()
	m := Merge(a, nil, b)
	if diff := cmp.Diff(aBefore, a); diff != "" {
		t.Errorf("Merge changed its input (-before +after):\n%s", diff)
	}
	if len(m.Runs) != 2 || m.Runs[0].Argv[0] != "ls" || m.Runs[1].Argv[0] != "curl" {
		t.Errorf("Merge runs = %+v, want ls then curl", m.Runs)
	}
	if len(m.Syscalls) != 5 {
		t.Errorf("Merge has %d syscalls, want 5", len(m.Syscalls))
	}
	for _, sc := range m.Syscalls {
		if sc.ABI == bitmap.X86_64 && sc.Nr == 0 && (sc.Count != 24 || len(sc.Executables) != 2) {
			t.Errorf("Merge read = %+v, want count 24, two executables", sc)
		}
	}
}

func TestSet(t *testing.T) {
	p := sample()
	s, err := p.Set(bitmap.X86_64)
	if err != nil || s.String() != "{read,write,getdents64}" || s.ABI() != bitmap.X86_64 {
		t.Errorf("Set(x86_64) = %v, %v; want {read,write,getdents64}", s, err)
	}
	if _, err := p.Set(bitmap.AARCH64); !errors.Is(err, ErrNoABI) {
		t.Errorf("Set(aarch64) error = %v, want ErrNoABI", err)
	}
	p.Add(bitmap.X32, 520, "/x32/prog", 1)
	p.Add(bitmap.X32, 0, "/x32/prog", 1)
	s, err = p.Set(bitmap.X32)
	if !errors.Is(err, ErrBeyond) || !strings.Contains(err.Error(), "execve (520)") || s.String() != "{read}" {
		t.Errorf("Set(x32) = %v, %v; want {read} and ErrBeyond naming execve (520)", s, err)
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     error  // errors.Is target, or nil for a *FormatError
		msg      string // in the message
	}{
		{"syntax", `{"version":1,`, nil, "byte"},
		{"not an object", `[1]`, nil, "byte"},
		{"trailing data", `{"version":1} {}`, nil, "data after"},
		{"version 2", `{"version":2}`, ErrVersion, "version 1"},
		{"no version", `{"syscalls":[]}`, nil, "version: missing"},
		{"unknown field", `{"version":1,"abi":"x86_64"}`, nil, "unknown field"},
		{"unknown abi", `{"version":1,"syscalls":[{"abi":"mips","nr":0,"name":"read"}]}`, nil, `syscalls[0].abi: unknown ABI "mips"`},
		{"alias abi", `{"version":1,"syscalls":[{"abi":"amd64","nr":0,"name":"read"}]}`, nil, `unknown ABI "amd64"`},
		{"wrong name", `{"version":1,"syscalls":[{"abi":"x86_64","nr":0,"name":"write"}]}`, nil, `x86_64 syscall 0 is "read"`},
		{"negative", `{"version":1,"syscalls":[{"abi":"x86_64","nr":-1,"name":"-1"}]}`, nil, "negative"},
		{"no nr", `{"version":1,"syscalls":[{"abi":"x86_64","name":"read"}]}`, nil, "missing"},
		{"duplicate", `{"version":1,"syscalls":[{"abi":"x86_64","nr":0,"name":"read"},{"abi":"x86_64","nr":0,"name":"read"}]}`, nil, "twice"},
		{"count type", `{"version":1,"syscalls":[{"abi":"x86_64","nr":0,"name":"read","count":-3}]}`, nil, "count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(strings.NewReader(tt.in))
			var fe *FormatError
			switch {
			case err == nil:
				t.Fatalf("Read(%s) = nil error", tt.in)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Errorf("Read(%s) = %v, want %v", tt.in, err, tt.want)
			case tt.want == nil && !errors.As(err, &fe):
				t.Errorf("Read(%s) = %T %v, want *FormatError", tt.in, err, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Read(%s) = %q, want it to say %q", tt.in, err, tt.msg)
			}
		})
	}
}

func TestWriteFileAndUpdate(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "p.json")
	if err := Update(name, sample()); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(name, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Update(name, sample()); err != nil {
		t.Fatal(err)
	}
	p, err := ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Runs) != 2 || p.Syscalls[0].Count != 24 {
		t.Errorf("after two Updates: %d runs, read count %d; want 2, 24", len(p.Runs), p.Syscalls[0].Count)
	}
	if fi, err := os.Stat(name); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after Update = %v, %v; want 0600 kept", fi.Mode(), err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("directory holds %d entries after Update, want 1 (no temporary files left)", len(ents))
	}
	if err := os.WriteFile(name, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Update(name, sample()); err == nil || !strings.Contains(err.Error(), name) {
		t.Errorf("Update over a malformed profile = %v, want an error naming %s", err, name)
	}
}

func TestTestdata(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.json")
	if len(files) == 0 {
		t.Fatal("no testdata/*.json")
	}
	for _, f := range files {
		p, err := ReadFile(f)
		if err != nil {
			t.Errorf("ReadFile(%s): %v", f, err)
			continue
		}
		var b bytes.Buffer
		p.Write(&b)
		want, _ := os.ReadFile(f)
		if !bytes.Equal(b.Bytes(), want) {
			t.Errorf("%s is not in canonical form: Write gives\n%s", f, b.String())
		}
	}
}

func FuzzRead(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, name := range files {
		b, _ := os.ReadFile(name)
		f.Add(b)
	}
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := Read(bytes.NewReader(in))
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := p.Write(&b); err != nil {
			t.Fatal(err)
		}
		q, err := Read(&b)
		if err != nil {
			t.Fatalf("Read(Write(Read(in))): %v", err)
		}
		if diff := cmp.Diff(p, q); diff != "" {
			t.Errorf("round trip (-first +second):\n%s", diff)
		}
	})
}
