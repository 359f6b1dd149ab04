//go:build linux

package execcli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sysrestrict/sysrestrict/internal/hostile"
)

// TestHostileHeaders: files whose headers would cost the reader time or
// memory out of proportion are refused (126) before anything runs.
// make bench times them (internal/bench/hostile).
func TestHostileHeaders(t *testing.T) {
	need(t)
	dir := t.TempDir()
	phdrs, sparse := filepath.Join(dir, "phdrs"), filepath.Join(dir, "sparse")
	if err := hostile.WritePhdrs(phdrs, hostile.Phnum); err != nil {
		t.Fatal(err)
	}
	if err := hostile.WriteSparse(sparse, 256<<20); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ path, msg string }{
		{phdrs, "65000 program headers (3640000 bytes): more than the 65536 bytes of them any kernel loads"},
		{sparse, "section header table of 4194240 entries: more than the 65536 this reader handles"},
	} {
		r := load(t, tt.path)
		wantExit(t, filepath.Base(tt.path), r, 126, "")
		if !strings.Contains(r.stderr, tt.msg) {
			t.Errorf("%s: stderr %q, want %q", filepath.Base(tt.path), r.stderr, tt.msg)
		}
	}
}
