package execcli

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLoaderImports keeps out of the loader (cmd/sysrestrict-exec, whose
// own package cannot hold tests: it runs the loader from init) the packages whose init or
// size its start-up budget cannot afford (docs/exec.md, "Start-up"). Each
// was measured: urfave/cli ~0.8 ms of init, go-seccomp-bpf's arch tables
// 0.5-0.8 ms, debug/elf's imports ~10 page faults, the supervisor's
// (encoding/json, os/signal, context) 6-10 page faults.
func TestLoaderImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/sysrestrict/sysrestrict/cmd/sysrestrict-exec").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		deps[p] = true
	}
	if !deps["github.com/sysrestrict/sysrestrict/pkg/enforce"] {
		t.Fatalf("go list -deps printed no pkg/enforce; is this the loader?\n%s", out)
	}
	for _, p := range []string{
		"github.com/urfave/cli/v2",
		"github.com/elastic/go-seccomp-bpf",
		"github.com/elastic/go-seccomp-bpf/arch",
		"debug/elf",
		"compress/flate",
		"encoding/json",
		"os/signal",
		"context",
		"github.com/sysrestrict/sysrestrict/internal/supervise",
		"github.com/sysrestrict/sysrestrict/pkg/profile",
	} {
		if deps[p] {
			t.Errorf("sysrestrict-exec imports %s, which its start-up budget cannot afford (docs/exec.md)", p)
		}
	}
}
