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

var (
	bash = ID{Path: "/usr/bin/bash", BuildID: "gnu:1111"}
	jq   = ID{Path: "/usr/bin/jq", BuildID: "gnu:2222"}
	sort = ID{Path: "/usr/bin/sort", BuildID: "gnu:3333"}
	tool = ID{Path: "/opt/tool", Size: 4096} // no build ID
	ld32 = ID{Path: "/usr/bin/helper32", BuildID: "gnu:4444"}
)

func nr(name string) int { return bitmap.X86_64.Lookup(name)[0] }

// sample is what `bash -c "jq . | sort"` records, and an i386 helper.
func sample() *Profile {
	p := &Profile{Runs: []Run{{
		Mode: ModeLearn, Argv: []string{"bash", "-c", "jq . | sort"}, Executable: "/usr/bin/bash", ABI: bitmap.X86_64,
		Time: time.Date(2026, 11, 23, 13, 0, 0, 0, time.UTC), Status: "exit 0",
	}}}
	for _, name := range []string{"read", "write", "execve", "clone", "wait4", "pipe2", "dup2"} {
		p.Add(bash, bash, bitmap.X86_64, nr(name), 2)
	}
	for _, name := range []string{"read", "write", "getdents64"} {
		p.Add(jq, bash, bitmap.X86_64, nr(name), 3)
	}
	for _, name := range []string{"read", "write", "fstat"} {
		p.Add(sort, bash, bitmap.X86_64, nr(name), 1)
	}
	p.Add(ld32, bash, bitmap.I386, 11, 1)
	return p
}

func names(p *Profile, abi bitmap.ABI) string {
	var n []string
	for _, sc := range p.Syscalls() {
		if sc.ABI == abi {
			n = append(n, sc.Name)
		}
	}
	return strings.Join(n, ",")
}

func TestAddKeepsOrder(t *testing.T) {
	p := sample()
	var got []string
	for _, e := range p.Executables {
		got = append(got, e.Path)
	}
	if want := []string{"/usr/bin/bash", "/usr/bin/helper32", "/usr/bin/jq", "/usr/bin/sort"}; !cmp.Equal(got, want) {
		t.Errorf("executables = %v, want %v", got, want)
	}
	if got, want := names(p, bitmap.X86_64), "read,write,fstat,dup2,clone,execve,wait4,getdents64,pipe2"; got != want {
		t.Errorf("Syscalls() x86_64 = %s, want %s", got, want)
	}
	if sc := p.Syscalls()[0]; sc.Name != "read" || sc.Count != 6 {
		t.Errorf("Syscalls()[0] = %+v, want read counted 2+3+1", sc)
	}
	if got := p.MadeBy(bitmap.X86_64, nr("read")); !cmp.Equal(got, []ID{bash, jq, sort}) {
		t.Errorf("MadeBy(read) = %v", got)
	}
	if got, want := p.ABIs(), []bitmap.ABI{bitmap.X86_64, bitmap.I386}; !cmp.Equal(got, want) {
		t.Errorf("ABIs() = %v, want %v", got, want)
	}
}

func TestMatches(t *testing.T) {
	tests := []struct {
		name         string
		recorded, at ID
		want         bool
	}{
		{"same build ID, other path", jq, ID{Path: "/tmp/jq", BuildID: "gnu:2222"}, true},
		{"other build ID, same path", jq, ID{Path: "/usr/bin/jq", BuildID: "gnu:9999"}, false},
		{"build ID against none", jq, ID{Path: "/usr/bin/jq", Size: 4096}, false},
		{"none against a build ID", tool, ID{Path: "/opt/tool", BuildID: "gnu:1"}, false},
		{"path and size", tool, ID{Path: "/opt/tool", Size: 4096}, true},
		{"path, other size", tool, ID{Path: "/opt/tool", Size: 4097}, false},
		{"size, other path", tool, ID{Path: "/opt/tool2", Size: 4096}, false},
		{"version 1: path only", ID{Path: "/usr/bin/jq"}, jq, true},
		{"version 1: other path", ID{Path: "/usr/bin/jq"}, ID{Path: "/tmp/jq", BuildID: "gnu:2222"}, false},
		{"unknown executable", ID{}, ID{}, false},
	}
	for _, tt := range tests {
		if got := tt.recorded.Matches(tt.at); got != tt.want {
			t.Errorf("%s: %v.Matches(%v) = %v, want %v", tt.name, tt.recorded, tt.at, got, tt.want)
		}
	}
}

// TestFor: a stamp of jq learned under bash takes jq's syscalls only; a
// stamp of bash takes bash's and those of everything it ran.
func TestFor(t *testing.T) {
	p := sample()
	q, err := p.For(ID{Path: "/build/jq", BuildID: "gnu:2222"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(q, bitmap.X86_64), "read,write,getdents64"; got != want {
		t.Errorf("For(jq) syscalls = %s, want %s (none of bash's)", got, want)
	}
	if len(q.Runs) != 1 {
		t.Errorf("For(jq) runs = %d, want the profile's 1", len(q.Runs))
	}
	q, err = p.For(bash)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(q, bitmap.X86_64), names(p, bitmap.X86_64); got != want {
		t.Errorf("For(bash) syscalls = %s, want all: %s", got, want)
	}
	_, err = p.For(tool)
	if !errors.Is(err, ErrNoExecutable) {
		t.Fatalf("For(tool) error = %v, want ErrNoExecutable", err)
	}
	for _, want := range []string{"/opt/tool (no build ID, 4096 bytes)", "/usr/bin/bash (build ID gnu:1111)", "/usr/bin/sort (build ID gnu:3333)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("For(tool) error %q does not name %s", err, want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	p := sample()
	p.Add(tool, tool, bitmap.X86_64, nr("openat"), 1)
	p.Add(ID{}, ID{}, bitmap.X86_64, nr("close"), 1) // an unknown executable
	p.Runs = append(p.Runs, Run{Mode: ModeAudit, Argv: []string{"tool"}, Executable: "/opt/tool", ABI: bitmap.X86_64,
		Time: time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC), Status: "signal SIGTERM"})
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
	b.Add(ID{Path: "/usr/bin/curl", BuildID: "gnu:5555"}, ID{Path: "/usr/bin/curl", BuildID: "gnu:5555"}, bitmap.X86_64, 41, 1)
	b.Add(jq, jq, bitmap.X86_64, nr("read"), 1)
	b.Runs[0].Argv = []string{"curl"}
	aBefore := sample()
	m := Merge(a, nil, b)
	if diff := cmp.Diff(aBefore, a); diff != "" {
		t.Errorf("Merge changed its input (-before +after):\n%s", diff)
	}
	if len(m.Runs) != 2 || m.Runs[0].Argv[0] != "bash" || m.Runs[1].Argv[0] != "curl" {
		t.Errorf("Merge runs = %+v, want bash then curl", m.Runs)
	}
	if len(m.Executables) != 5 {
		t.Errorf("Merge has %d executables, want 5", len(m.Executables))
	}
	for _, e := range m.Executables {
		if e.ID == jq && (e.Syscalls[0].Name != "read" || e.Syscalls[0].Count != 7 || !cmp.Equal(e.Under, []ID{bash, jq})) {
			t.Errorf("Merge jq = %+v, want read counted 3+3+1, under bash and jq", e)
		}
	}
}

func TestSet(t *testing.T) {
	p := sample()
	s, err := p.Set(bitmap.X86_64)
	if err != nil || s.Len() != 9 || s.ABI() != bitmap.X86_64 {
		t.Errorf("Set(x86_64) = %v, %v; want the 9 syscalls of every executable", s, err)
	}
	if _, err := p.Set(bitmap.AARCH64); !errors.Is(err, ErrNoABI) {
		t.Errorf("Set(aarch64) error = %v, want ErrNoABI", err)
	}
	x32 := ID{Path: "/x32/prog", Size: 100}
	p.Add(x32, x32, bitmap.X32, 520, 1)
	p.Add(x32, x32, bitmap.X32, 0, 1)
	s, err = p.Set(bitmap.X32)
	if !errors.Is(err, ErrBeyond) || !strings.Contains(err.Error(), "execve (520)") || s.String() != "{read}" {
		t.Errorf("Set(x32) = %v, %v; want {read} and ErrBeyond naming execve (520)", s, err)
	}
}

func TestReadErrors(t *testing.T) {
	exe := func(s string) string {
		return `{"version":2,"executables":[` + s + `],"runs":[]}`
	}
	tests := []struct {
		name, in string
		want     error  // errors.Is target, or nil for a *FormatError
		msg      string // in the message
	}{
		{"syntax", `{"version":2,`, nil, "byte"},
		{"not an object", `[1]`, nil, "byte"},
		{"trailing data", `{"version":2} {}`, nil, "data after"},
		{"version 3", `{"version":3}`, ErrVersion, "versions 1 and 2"},
		{"no version", `{"executables":[]}`, nil, "version: missing"},
		{"unknown field", `{"version":2,"abi":"x86_64"}`, nil, "unknown field"},
		{"v1 field in v2", `{"version":2,"syscalls":[]}`, nil, "version 1 field"},
		{"v2 field in v1", `{"version":1,"executables":[]}`, nil, "version 2 field"},
		{"mode in v1", `{"version":1,"runs":[{"mode":"learn"}]}`, nil, "runs[0].mode: not in a version 1"},
		{"bad mode", `{"version":2,"runs":[{"mode":"trace"}]}`, nil, `runs[0].mode: "trace"`},
		{"no mode", `{"version":2,"runs":[{"argv":["x"]}]}`, nil, `runs[0].mode: ""`},
		{"no path", exe(`{"syscalls":[]}`), nil, "executables[0].path: missing"},
		{"bad build ID", exe(`{"path":"/x","build_id":"sha:12"}`), nil, `executables[0].build_id: "sha:12"`},
		{"upper-case hex", exe(`{"path":"/x","build_id":"gnu:AB"}`), nil, "build_id"},
		{"odd hex", exe(`{"path":"/x","build_id":"gnu:abc"}`), nil, "build_id"},
		{"control in go ID", exe(`{"path":"/x","build_id":"go:a\nb"}`), nil, "build_id"},
		{"negative size", exe(`{"path":"/x","size":-1}`), nil, "executables[0].size: negative"},
		{"size and build ID", exe(`{"path":"/x","size":10,"build_id":"gnu:ab"}`), nil, "size: given with a build ID"},
		{"twice", exe(`{"path":"/x","size":1},{"path":"/x","size":1}`), nil, "executables[1]: /x (no build ID, 1 bytes) listed twice"},
		{"bad under", exe(`{"path":"/x","under":[{"build_id":"gnu:ab"}]}`), nil, "executables[0].under[0].path: missing"},
		{"unknown abi", exe(`{"path":"/x","syscalls":[{"abi":"mips","nr":0,"name":"read"}]}`), nil, `executables[0].syscalls[0].abi: unknown ABI "mips"`},
		{"alias abi", exe(`{"path":"/x","syscalls":[{"abi":"amd64","nr":0,"name":"read"}]}`), nil, `unknown ABI "amd64"`},
		{"wrong name", exe(`{"path":"/x","syscalls":[{"abi":"x86_64","nr":0,"name":"write"}]}`), nil, `x86_64 syscall 0 is "read"`},
		{"negative", exe(`{"path":"/x","syscalls":[{"abi":"x86_64","nr":-1,"name":"-1"}]}`), nil, "negative"},
		{"no nr", exe(`{"path":"/x","syscalls":[{"abi":"x86_64","name":"read"}]}`), nil, "missing"},
		{"duplicate", exe(`{"path":"/x","syscalls":[{"abi":"x86_64","nr":0,"name":"read"},{"abi":"x86_64","nr":0,"name":"read"}]}`), nil, "syscalls[1].nr: x86_64 0 listed twice"},
		{"count type", exe(`{"path":"/x","syscalls":[{"abi":"x86_64","nr":0,"name":"read","count":-3}]}`), nil, "count"},
		{"v1 duplicate", `{"version":1,"syscalls":[{"abi":"x86_64","nr":0,"name":"read"},{"abi":"x86_64","nr":0,"name":"read"}]}`, nil, "twice"},
		{"v1 wrong name", `{"version":1,"syscalls":[{"abi":"x86_64","nr":0,"name":"write"}]}`, nil, `x86_64 syscall 0 is "read"`},
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

// TestForNamesNone: a profile that names no executable (a version 1
// profile written by hand, its entries listing none) is taken whole; one
// entry of an unknown executable beside named ones is not.
func TestForNamesNone(t *testing.T) {
	p, err := Read(strings.NewReader(`{"version": 1, "syscalls": [{"abi": "x86_64", "nr": 0, "name": "read", "count": 1, "executables": []}], "runs": []}`))
	if err != nil {
		t.Fatal(err)
	}
	q, err := p.For(jq)
	if err != nil || names(q, bitmap.X86_64) != "read" {
		t.Errorf("For(jq) of a profile naming no executable = %v, %v; want it whole", q, err)
	}
	p = sample()
	p.Add(ID{}, ID{}, bitmap.X86_64, nr("socket"), 1)
	if _, err := p.For(tool); !errors.Is(err, ErrNoExecutable) {
		t.Errorf("For(tool) of a profile with one unknown entry among named ones: %v, want ErrNoExecutable", err)
	}
}

// TestReadV1 reads the profile of `sh -c 'ls / | wc -l'` that version 1
// wrote: every executable by path, under the run's executable.
func TestReadV1(t *testing.T) {
	p, err := ReadFile("testdata/sh-ls-wc.v1.profile.json")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range p.Executables {
		paths = append(paths, e.Path)
		if e.BuildID != "" || e.Size != 0 || !cmp.Equal(e.Under, []ID{{Path: "/usr/bin/dash"}}) {
			t.Errorf("version 1 executable %+v, want a path alone, under /usr/bin/dash", e)
		}
	}
	if want := []string{"/usr/bin/dash", "/usr/bin/ls", "/usr/bin/wc"}; !cmp.Equal(paths, want) {
		t.Errorf("executables = %v, want %v", paths, want)
	}
	if len(p.Runs) != 1 || p.Runs[0].Mode != ModeLearn {
		t.Errorf("runs = %+v, want one learning run", p.Runs)
	}
	// A stamp of wc at its path takes wc's syscalls; of dash, all.
	wc, err := p.For(ID{Path: "/usr/bin/wc", BuildID: "gnu:77"})
	if err != nil {
		t.Fatal(err)
	}
	if len(wc.Executables) != 1 {
		t.Errorf("For(wc) = %d executables, want 1", len(wc.Executables))
	}
	dash, err := p.For(ID{Path: "/usr/bin/dash", BuildID: "gnu:88"})
	if err != nil || len(dash.Executables) != 3 {
		t.Errorf("For(dash) = %v, %v; want all 3 executables", dash, err)
	}
	if _, err := p.For(ID{Path: "/tmp/wc", BuildID: "gnu:77"}); !errors.Is(err, ErrNoExecutable) {
		t.Errorf("For(/tmp/wc) error = %v, want ErrNoExecutable: version 1 knows paths only", err)
	}
	// Written again, it is version 2, and reads back the same.
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		t.Fatal(err)
	}
	q, err := Read(&b)
	if err != nil || !cmp.Equal(p, q) {
		t.Errorf("version 1 written as version 2 and read back: %v, %v", cmp.Diff(p, q), err)
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
	if len(p.Runs) != 2 || p.Syscalls()[0].Count != 12 {
		t.Errorf("after two Updates: %d runs, read count %d; want 2, 12", len(p.Runs), p.Syscalls()[0].Count)
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

// TestTestdata: every profile in testdata reads; those of this version
// are in canonical form.
func TestTestdata(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.json")
	var current int
	for _, f := range files {
		p, err := ReadFile(f)
		if err != nil {
			t.Errorf("ReadFile(%s): %v", f, err)
			continue
		}
		if strings.Contains(f, ".v1.") {
			continue
		}
		current++
		var b bytes.Buffer
		p.Write(&b)
		want, _ := os.ReadFile(f)
		if !bytes.Equal(b.Bytes(), want) {
			t.Errorf("%s is not in canonical form: Write gives\n%s", f, b.String())
		}
	}
	if current == 0 {
		t.Fatal("no version 2 profile in testdata/*.json")
	}
}

func FuzzRead(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, name := range files {
		b, _ := os.ReadFile(name)
		f.Add(b)
	}
	f.Add([]byte(`{"version":2}`))
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
			t.Fatalf("Read(Write(Read(in))): %v\n%s", err, b.String())
		}
		if diff := cmp.Diff(p, q); diff != "" {
			t.Errorf("round trip (-first +second):\n%s", diff)
		}
	})
}
