package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		glob, name string
		want       bool
	}{
		{"usr/bin/server", "usr/bin/server", true},
		{"usr/bin/server", "usr/bin/server2", false},
		{"usr/bin/*", "usr/bin/ls", true},
		{"usr/bin/*", "usr/bin/sub/ls", false},
		{"usr/bin/?s", "usr/bin/ls", true},
		{"usr/bin/[lp]s", "usr/bin/ps", true},
		{"usr/bin/[!l]s", "usr/bin/ls", false},
		{"usr/lib/**/*.so*", "usr/lib/libc.so.6", true},
		{"usr/lib/**/*.so*", "usr/lib/x86_64-linux-gnu/libc.so.6", true},
		{"usr/lib/**/*.so*", "usr/lib/a/b/c/libz.so", true},
		{"usr/lib/**/*.so*", "usr/libexec/libz.so", false},
		{"**", "anything/at/all", true},
		{"**/ls", "ls", true},
		{"**/ls", "usr/bin/ls", true},
		{"usr/**", "usr/bin/ls", true},
		{"usr/**", "usr", false},
		{"*", "usr/bin/ls", false},
		{"usr/*/ls", "usr/bin/ls", true},
		{"usr/*/ls", "usr/ls", false},
	} {
		if got := Match(tc.glob, tc.name); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.glob, tc.name, got, tc.want)
		}
	}
}

func TestRead(t *testing.T) {
	src := `# the example of SPEC section 6
usr/bin/server             --embed --deny @exec,@debug,@mount
usr/bin/tool               --allow-profile profiles/tool.json   # trailing comment

usr/libexec/app/*          --deny '@mount' "--deny" @io-uring
usr/lib/**/*.so*           skip
usr/bin/with\ space        --deny a\#b
`
	p, err := Read(strings.NewReader(src), "pol")
	if err != nil {
		t.Fatal(err)
	}
	want := []Rule{
		{Line: 2, Glob: "usr/bin/server", Args: []string{"--embed", "--deny", "@exec,@debug,@mount"}},
		{Line: 3, Glob: "usr/bin/tool", Args: []string{"--allow-profile", "profiles/tool.json"}},
		{Line: 5, Glob: "usr/libexec/app/*", Args: []string{"--deny", "@mount", "--deny", "@io-uring"}},
		{Line: 6, Glob: "usr/lib/**/*.so*", Skip: true},
		{Line: 7, Glob: "usr/bin/with space", Args: []string{"--deny", "a#b"}},
	}
	if diff := cmp.Diff(want, p.Rules); diff != "" {
		t.Errorf("Read: rules differ (-want +got):\n%s", diff)
	}
}

func TestReadErrors(t *testing.T) {
	for _, tc := range []struct{ src, line, msg string }{
		{"usr/bin/x", "1", "no options"},
		{"\n/usr/bin/x --deny a", "2", "relative to the root"},
		{"usr/bin/ --deny a", "1", "names files"},
		{"usr//x --deny a", "1", "empty path element"},
		{"usr/../etc/x --deny a", "1", `".." is not allowed`},
		{"usr/a**b --deny a", "1", "stands alone"},
		{"usr/[a --deny a", "1", "bad pattern"},
		{"usr/x skip --deny a", "1", "skip stands alone"},
		{"usr/x --deny 'a", "1", "unterminated single quote"},
		{`usr/x --deny "a`, "1", "unterminated double quote"},
		{`usr/x --deny a\`, "1", "backslash ends the line"},
	} {
		_, err := Read(strings.NewReader(tc.src), "pol")
		var se *SyntaxError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), "pol:"+tc.line+":") || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Read(%q) = %v, want a SyntaxError at pol:%s about %q", tc.src, err, tc.line, tc.msg)
		}
	}
	long := "x --deny " + strings.Repeat("a", maxLine)
	if _, err := Read(strings.NewReader(long), "pol"); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("Read(a %d-byte line) = %v, want an error", len(long), err)
	}
}

// tree makes files under a new root: name → content ("elf" gives an ELF
// magic), mode 0755 unless the name ends in .so.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if content == "elf" {
			content = "\x7fELF\x02\x01\x01"
		}
		mode := os.FileMode(0o755)
		if strings.Contains(name, ".so") {
			mode = 0o644
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func rels(ts []*Target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Rel)
	}
	return out
}

func TestResolve(t *testing.T) {
	root := tree(t, map[string]string{
		"usr/bin/server":             "elf",
		"usr/bin/tool":               "elf",
		"usr/bin/script":             "#!/bin/sh\n",
		"usr/bin/other":              "elf",
		"usr/libexec/app/a":          "elf",
		"usr/libexec/app/b":          "elf",
		"usr/lib/x86_64/libfoo.so.1": "elf",
		"usr/lib/libbar.so":          "elf",
	})
	// A symlink a rule matches is not followed; a hard link is one target.
	if err := os.Symlink("server", filepath.Join(root, "usr/bin/server-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(root, "usr/libexec/app/a"), filepath.Join(root, "usr/libexec/app/c")); err != nil {
		t.Fatal(err)
	}
	p, err := Read(strings.NewReader(`
usr/bin/server*   --deny @exec
usr/bin/s*        --deny ptrace
usr/libexec/app/* --deny @mount
usr/lib/**/*.so*  skip
`), "pol")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := p.Resolve(root)
	if err != nil {
		t.Fatalf("Resolve = %v", err)
	}
	if got, want := rels(tr.Targets), []string{"usr/bin/server", "usr/libexec/app/a", "usr/libexec/app/b"}; !cmp.Equal(got, want) {
		t.Errorf("targets = %v, want %v", got, want)
	}
	if got, want := tr.Targets[0].Args(), []string{"--deny", "@exec", "--deny", "ptrace"}; !cmp.Equal(got, want) {
		t.Errorf("server's options = %v, want %v (every matching rule, in file order)", got, want)
	}
	if got, want := tr.Targets[1].Links, []string{"usr/libexec/app/c"}; !cmp.Equal(got, want) {
		t.Errorf("a's other names = %v, want %v", got, want)
	}
	if got, want := rels(tr.Skipped), []string{"usr/lib/libbar.so", "usr/lib/x86_64/libfoo.so.1"}; !cmp.Equal(got, want) {
		t.Errorf("skipped = %v, want %v", got, want)
	}
	// tool and other: executable ELF files no rule covers. The script is
	// not ELF; the libraries are skipped.
	if got, want := tr.Uncovered, []string{"usr/bin/other", "usr/bin/tool"}; !cmp.Equal(got, want) {
		t.Errorf("uncovered = %v, want %v", got, want)
	}
}

func TestResolveUnmatched(t *testing.T) {
	root := tree(t, map[string]string{"usr/bin/a": "elf", "usr/bin/script": "#!/bin/sh\n"})
	os.Symlink("a", filepath.Join(root, "usr/bin/link"))
	p, _ := Read(strings.NewReader("usr/bin/a --deny x\nusr/bin/script --deny x\nusr/bin/link --deny x\nopt/** skip\n"), "pol")
	_, err := p.Resolve(root)
	var lines []int
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var re *RuleError
		if !errors.As(e, &re) {
			t.Fatalf("Resolve error %v is not a RuleError", e)
		}
		lines = append(lines, re.Rule.Line)
	}
	if want := []int{2, 3, 4}; !cmp.Equal(lines, want) {
		t.Errorf("unmatched rules at lines %v, want %v: %v", lines, want, err)
	}
	if !strings.Contains(err.Error(), "pol:2: usr/bin/script matches no regular ELF file") {
		t.Errorf("Resolve error %q does not name the file, line and glob", err)
	}
}

func FuzzRead(f *testing.F) {
	f.Add("usr/bin/x --deny a,b # c\nusr/lib/**/*.so* skip\n")
	f.Add(`a\ b "c\"d" 'e f'`)
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Read(strings.NewReader(src), "fuzz")
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) && !strings.Contains(err.Error(), "longer than") {
				t.Fatalf("Read error %v is not a SyntaxError", err)
			}
			return
		}
		for _, r := range p.Rules {
			if checkGlob(r.Glob) != nil || (r.Skip == (len(r.Args) > 0)) {
				t.Fatalf("Read gave a bad rule %+v", r)
			}
			Match(r.Glob, "usr/bin/x")
		}
	})
}
