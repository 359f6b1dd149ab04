package elfnote

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

var updateStamps = flag.Bool("update-stamps", false, "rewrite testdata/stamps.json from what this stamper writes")

// stampBytes is one line of testdata/stamps.json: the SHA-256 of a
// fixture stamped with a deny list, re-stamped with an allowlist (more
// bits and DENY_BEYOND, in place), and removed again.
type stampBytes struct {
	Fixture   string `json:"fixture"`
	Deny      string `json:"deny"`
	Allowlist string `json:"allowlist"`
	Removed   string `json:"removed"`
}

// TestStampBytes pins the bytes of stamps that need no action note:
// testdata/stamps.json was written by the stamper before
// NT_SYSRESTRICT_ACTION existed (commit 51c25d8, go test -run
// TestStampBytes -update-stamps there), and every stamp without actions
// must still be byte for byte what it wrote (DESIGN: the note type is
// written only when a syscall gets anything but kill).
func TestStampBytes(t *testing.T) {
	sum := func(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }
	var got []stampBytes
	for _, fx := range loadFixtures(t) {
		if fx.Expect != "stampable" || fx.Note != nil {
			continue
		}
		orig := mustRead(t, filepath.Join(fixtureDir, fx.File))
		stamp := func(b []byte, s bitmap.Set) []byte {
			t.Helper()
			p, err := PlanStamp(bytes.NewReader(b), s)
			if err != nil {
				t.Fatalf("%s: %v", fx.File, err)
			}
			return p.Apply(bytes.Clone(b))
		}
		deny := stamp(orig, bitmap.NewSet(bitmap.Unknown, 59, 101, 322))
		allow := bitmap.NewSet(bitmap.Unknown, 59, 101, 322)
		for nr := 100; nr < 400; nr++ {
			allow.Add(nr)
		}
		allow.SetDenyBeyond(true)
		allowed := stamp(deny, allow)
		rm, err := PlanRemove(bytes.NewReader(allowed))
		if err != nil {
			t.Fatalf("%s: %v", fx.File, err)
		}
		got = append(got, stampBytes{fx.File, sum(deny), sum(allowed), sum(rm.Apply(bytes.Clone(allowed)))})
	}
	const path = "testdata/stamps.json"
	if *updateStamps {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []stampBytes
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stamps without actions differ from %s (-want +got):\n%s", path, diff)
	}
}
