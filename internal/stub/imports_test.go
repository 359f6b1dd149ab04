package stub

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImports keeps internal/stub cheap to link: readers that check an
// embedded stub (the loader among them, whose start-up budget is tight:
// docs/exec.md) import it, so it must not pull in the assembler helper,
// os/exec or debug/elf.
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/sysrestrict/sysrestrict/internal/stub").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, bad := range []string{"github.com/sysrestrict/sysrestrict/internal/stub/asm", "os/exec", "debug/elf", "github.com/sysrestrict/sysrestrict/pkg/enforce"} {
		for _, d := range deps {
			if d == bad {
				t.Errorf("internal/stub imports %s", bad)
			}
		}
	}
}
