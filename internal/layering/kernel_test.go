package layering

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/sysrestrict/sysrestrict/"

// What a package may do with the kernel packages (unix, syscall, unsafe).
type grant uint8

const (
	files   grant = 1 << iota // file and process-state syscalls, errno names
	exec_                     // exec by path and wait: syscall.Exec, ForkExec, Wait4
	process                   // raw syscalls, seccomp, prctl, ptrace, getrandom, unsafe
)

// grants is the rule of doc.go. A package not listed may import none of
// golang.org/x/sys/unix, syscall and unsafe.
var grants = map[string]grant{
	"pkg/enforce":        files | exec_ | process, // installs filters, execs through the gate
	"internal/supervise": files | exec_ | process, // the ptrace supervisor
	"internal/execcli":   files | exec_,           // opens and reads PROGRAM; execs the supervisor by path
	"pkg/elfnote":        files,                   // writes stamped files safely
	"internal/stampcli":  files,                   // file identities (syscall.Stat_t)
	"internal/policy":    files,                   // file identities, opening without blocking

	// Outside the rule: what tests, shows or measures the tools.
	"internal/hostcap":          files | exec_ | process, // probes the host kernel for tests and scripts
	"internal/testutil":         files,                   // makes FIFOs and sockets for tests
	"examples/selfrestrict":     files | exec_ | process,
	"internal/bench/execbench":  files | exec_,
	"internal/bench/embedbench": files | exec_, // fork-execs and waits, as execbench
	"internal/bench/gofloor":    files | exec_,
	"internal/bench/hostile":    files | exec_,
	"internal/bench/auditbench": files | exec_, // runs the loader, reads its children's page faults (syscall.Rusage)
}

// kind returns what using name of the kernel package path needs.
func kind(path, name string) grant {
	if path == "unsafe" {
		return process
	}
	switch {
	case name == "Exec" || name == "ForkExec" || name == "StartProcess" || name == "Wait4":
		return exec_
	case strings.HasPrefix(name, "SYS_"),
		strings.Contains(name, "Syscall"), // Syscall, Syscall6, RawSyscall, RawSyscallNoError, ...
		strings.HasPrefix(name, "Prctl"), strings.HasPrefix(name, "PR_"),
		strings.HasPrefix(name, "Seccomp"), strings.HasPrefix(name, "SECCOMP_"),
		strings.HasPrefix(name, "Ptrace"), strings.HasPrefix(name, "PTRACE_"),
		name == "Getrandom", name == "Kill", name == "Tgkill", name == "Setns", name == "Unshare":
		return process
	}
	return files
}

var kernelPkgs = map[string]bool{"golang.org/x/sys/unix": true, "syscall": true, "unsafe": true}

type pkg struct {
	ImportPath, Dir         string
	GoFiles, IgnoredGoFiles []string
	CgoFiles, SFiles        []string
}

// TestKernelRule checks every non-test file of every package (for any OS
// and architecture: files excluded by build constraints too) against
// grants: which packages import unix, syscall or unsafe, and what they
// use of them.
func TestKernelRule(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := map[string]bool{}
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(p.ImportPath, module)
		checked[rel] = true
		g := grants[rel]
		for _, name := range append(p.GoFiles, p.IgnoredGoFiles...) {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			vs, err := violations(rel, filepath.Join(p.Dir, name), g)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vs {
				t.Error(v)
			}
		}
	}
	for _, must := range []string{"pkg/enforce", "pkg/filter", "pkg/bitmap", "internal/execcli", "internal/supervise"} {
		if !checked[must] {
			t.Errorf("go list did not list %s: is this the module?", must)
		}
	}
	for rel := range grants {
		if !checked[rel] {
			t.Errorf("grants names %s, which is no package of the module", rel)
		}
	}
}

// violations returns what the file at path, of package rel, does against
// grant g.
func violations(rel, path string, g grant) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	var vs []string
	names := map[string]string{} // local name -> kernel package path
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		if !kernelPkgs[p] {
			continue
		}
		switch {
		case g == 0:
			vs = append(vs, fmt.Sprintf("%s: %s imports %s: only the packages docs/design.md names talk to the kernel", fset.Position(im.Pos()), rel, p))
			continue
		case p == "unsafe" && g&process == 0:
			vs = append(vs, fmt.Sprintf("%s: %s imports unsafe, which only pkg/enforce and internal/supervise may", fset.Position(im.Pos()), rel))
		}
		local := filepath.Base(p)
		if im.Name != nil {
			local = im.Name.Name
		}
		names[local] = p
	}
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		x, ok := sel.X.(*ast.Ident)
		if !ok || names[x.Name] == "" || names[x.Name] == "unsafe" {
			return true
		}
		if need := kind(names[x.Name], sel.Sel.Name); g&need == 0 {
			vs = append(vs, fmt.Sprintf("%s: %s uses %s.%s, which only pkg/enforce and internal/supervise may", fset.Position(sel.Pos()), rel, x.Name, sel.Sel.Name))
		}
		return true
	})
	return vs, nil
}

// TestKernelRuleCatches: the check sees an import, a raw syscall, an exec,
// a renamed import and unsafe where they are not granted.
func TestKernelRuleCatches(t *testing.T) {
	src := `package x

import (
	sys "golang.org/x/sys/unix"
	"syscall"
	"unsafe"
)

var _ = unsafe.Sizeof(0)

func f() {
	sys.RawSyscall(sys.SYS_GETRANDOM, 0, 0, 0)
	syscall.Exec("", nil, nil)
	sys.Open("", 0, 0)
}
`
	path := filepath.Join(t.TempDir(), "x.go")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		g    grant
		want int
	}{
		{0, 3},             // the three imports
		{files, 4},         // unsafe, RawSyscall, SYS_GETRANDOM, Exec
		{files | exec_, 3}, // unsafe, RawSyscall, SYS_GETRANDOM
		{files | exec_ | process, 0},
	} {
		vs, err := violations("x", path, tt.g)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != tt.want {
			t.Errorf("grant %03b: %d violations, want %d:\n%s", tt.g, len(vs), tt.want, strings.Join(vs, "\n"))
		}
	}
}
