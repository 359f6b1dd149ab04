package filter

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestImports keeps the compiler pure: for every OS and architecture the
// module is built for, no package of its own or third-party in
// pkg/filter's dependencies (pkg/filter, pkg/bitmap, golang.org/x/net/bpf)
// imports golang.org/x/sys/..., syscall, unsafe, os or runtime (the
// standard library's own use of them aside): nothing that talks to the
// kernel, reads the environment, or asks which machine it runs on.
func TestImports(t *testing.T) {
	forbidden := []string{"syscall", "unsafe", "os", "runtime"}
	for _, target := range []string{"linux/amd64", "linux/arm64", "linux/386", "darwin/arm64", "windows/amd64", "freebsd/amd64"} {
		goos, goarch, _ := strings.Cut(target, "/")
		cmd := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}} {{join .Imports \" \"}}{{end}}", "github.com/sysrestrict/sysrestrict/pkg/filter")
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: go list -deps: %v", target, err)
		}
		seen := false
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			pkg, imports, _ := strings.Cut(line, " ")
			if pkg == "github.com/sysrestrict/sysrestrict/pkg/filter" {
				seen = true
			}
			if strings.HasPrefix(pkg, "golang.org/x/sys/") {
				t.Errorf("%s: pkg/filter depends on %s", target, pkg)
			}
			for _, im := range strings.Fields(imports) {
				for _, f := range forbidden {
					if im == f || strings.HasPrefix(im, f+"/") || strings.HasPrefix(im, "golang.org/x/sys/") {
						t.Errorf("%s: %s, a dependency of pkg/filter, imports %s", target, pkg, im)
					}
				}
			}
		}
		if !seen {
			t.Fatalf("%s: go list -deps did not list pkg/filter:\n%s", target, out)
		}
	}
}
