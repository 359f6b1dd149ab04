package stub

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// TestTemplateIdentity ties Template to the bytes of the templates: an
// embedded binary's note records Template, and Parse accepts only the
// current bytes, so new bytes need a new Template (and these hashes
// updated with it).
func TestTemplateIdentity(t *testing.T) {
	want := map[*template]string{
		&templateX86_64:  "df0f2a987de77f8c831878344b548dd99034812b5a2901ef583ec5acf312a81d",
		&templateAARCH64: "c543b366f8d481c8166bb8115463de5980548f5746c0f153399cccdb0a1dd98f",
	}
	if Template != 1 {
		t.Fatalf("Template = %d: record the hashes of its templates here", Template)
	}
	for tm, w := range want {
		sum := sha256.Sum256(tm.code)
		if got := hex.EncodeToString(sum[:]); got != w {
			t.Errorf("the %v template's bytes hash to %s, template %d's to %s: a change to the stub needs a new Template", tm.abi, got, Template, w)
		}
	}
}
