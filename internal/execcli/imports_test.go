package execcli

import (
	"os/exec"
	"path/filepath"
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

// TestLoaderLinks keeps out of the loader's binary the code it never needs
// but that a package it imports has: the undo record's decoder (4 page
// faults at every start when linked in; the loader reads notes with
// elfnote.ReadRestrictions, which does not call it).
func TestLoaderLinks(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "sysrestrict-exec")
	if out, err := exec.Command("go", "build", "-trimpath", "-tags", "urfave_cli_no_docs", "-o", bin, "github.com/sysrestrict/sysrestrict/cmd/sysrestrict-exec").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command("go", "tool", "nm", bin).Output()
	if err != nil {
		t.Fatalf("go tool nm: %v", err)
	}
	if !strings.Contains(string(out), "elfnote.ReadRestrictions") {
		t.Fatalf("go tool nm lists no elfnote.ReadRestrictions: is this the loader?")
	}
	for _, sym := range []string{"elfnote.decodeUndo", "elfnote.(*image).checkUndo", "elfnote.(*image).verifyUndo"} {
		if strings.Contains(string(out), sym) {
			t.Errorf("the loader links %s (docs/exec.md, \"Start-up\")", sym)
		}
	}
}
