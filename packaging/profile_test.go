package packaging

import (
	"os"
	"testing"

	"github.com/sysrestrict/sysrestrict/internal/identity"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/profile"
)

// writeProfile writes to name a profile in which the executable exe
// (learned where it was built: the stamper matches it by build ID) made
// the named x86_64 syscalls, as sysrestrict-exec --learn records them.
func writeProfile(t *testing.T, name, exe string, syscalls ...string) {
	t.Helper()
	f, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	id, err := identity.Of(f, "/build/"+exe)
	if err != nil {
		t.Fatal(err)
	}
	p := &profile.Profile{}
	for _, s := range syscalls {
		p.Add(id, id, bitmap.X86_64, bitmap.X86_64.Lookup(s)[0], 1)
	}
	if err := profile.WriteFile(name, p); err != nil {
		t.Fatal(err)
	}
}
