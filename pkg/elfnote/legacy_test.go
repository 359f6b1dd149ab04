//go:build linux

package elfnote

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// legacyStamps is testdata/legacy.json: how the stamper of the last commit
// before the undo record stamped each fixture (`make testdata-legacy`).
type legacyStamps struct {
	Commit string `json:"commit"`
	Stamps []struct {
		Fixture       string   `json:"fixture"`
		Args          []string `json:"args"`
		OrigSHA256    string   `json:"orig_sha256"`
		StampedSHA256 string   `json:"stamped_sha256"`
		Size          int      `json:"size"`
		Patches       []struct {
			Off int    `json:"off"`
			Hex string `json:"hex"`
		} `json:"patches"`
	} `json:"stamps"`
}

// legacyFiles returns each fixture and the bytes the old stamper made of it.
func legacyFiles(t *testing.T) (commit string, names []string, origs, stamped map[string][]byte) {
	t.Helper()
	b, err := os.ReadFile("testdata/legacy.json")
	if err != nil {
		t.Fatal(err)
	}
	var ls legacyStamps
	if err := json.Unmarshal(b, &ls); err != nil {
		t.Fatal(err)
	}
	if len(ls.Stamps) == 0 {
		t.Fatal("testdata/legacy.json lists no stamps")
	}
	origs, stamped = map[string][]byte{}, map[string][]byte{}
	sum := func(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }
	for _, s := range ls.Stamps {
		orig := mustRead(t, filepath.Join(fixtureDir, s.Fixture))
		if sum(orig) != s.OrigSHA256 {
			t.Fatalf("%s changed since testdata/legacy.json was made: run make testdata-legacy", s.Fixture)
		}
		out := make([]byte, s.Size)
		copy(out, orig)
		for _, p := range s.Patches {
			h, err := hex.DecodeString(p.Hex)
			if err != nil {
				t.Fatal(err)
			}
			copy(out[p.Off:], h)
		}
		if sum(out) != s.StampedSHA256 {
			t.Fatalf("%s: the recorded stamp does not rebuild the stamped file", s.Fixture)
		}
		names = append(names, s.Fixture)
		origs[s.Fixture], stamped[s.Fixture] = orig, out
	}
	return ls.Commit, names, origs, stamped
}

// TestLegacyStamps: a file stamped before the undo record existed (by
// the stamper of testdata/legacy.json's commit) still reads, re-stamps in
// place, and removes to the original bytes, through the legacy removal.
func TestLegacyStamps(t *testing.T) {
	commit, names, origs, stamped := legacyFiles(t)
	took := map[Strategy]int{}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			orig, old := origs[name], stamped[name]
			f, err := Read(bytes.NewReader(old))
			if err != nil {
				t.Fatalf("Read of the %s stamp: %v", commit, err)
			}
			want := bitmap.NewSet(f.ABI, 59, 60, 101)
			if !f.Stamped || !f.Set.Equal(want) || f.Note.UndoOff != 0 || f.Note.Size != noteSize {
				t.Fatalf("Read of the %s stamp = %v %v, note %+v; want %v, no undo record", commit, f.Stamped, f.Set, f.Note, want)
			}

			// Removal from memory: exact.
			rm, err := PlanRemove(bytes.NewReader(old))
			if err != nil {
				t.Fatalf("PlanRemove: %v", err)
			}
			if back := rm.Apply(bytes.Clone(old)); !rm.Exact || !bytes.Equal(back, orig) {
				t.Errorf("PlanRemove of the %s stamp: Exact %v, identical %v; want both", commit, rm.Exact, bytes.Equal(back, orig))
			}

			// Re-stamp in place (adds bits), loosen through a new file,
			// remove: each time the original comes back.
			p := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(p, old, 0o755); err != nil {
				t.Fatal(err)
			}
			res, err := Stamp(p, bitmap.NewSet(f.ABI, 62), Options{})
			if err != nil || res.Strategy != StrategyRewrite || !res.InPlace {
				t.Fatalf("Stamp(+62) of the %s stamp = %+v, %v; want an in-place rewrite", commit, res, err)
			}
			if g, err := ReadFile(p); err != nil || !g.Set.Equal(want.Union(bitmap.NewSet(f.ABI, 62))) || g.Note.UndoOff != 0 {
				t.Errorf("after Stamp(+62): %+v, %v", g, err)
			}
			loose := bitmap.NewSet(f.ABI, 62)
			loose.SetDenyBeyond(true)
			if res, err := Stamp(p, loose, Options{Replace: true}); err != nil || res.InPlace || res.Strategy != StrategyRewrite {
				t.Fatalf("Stamp(=62, DENY_BEYOND, Replace) = %+v, %v", res, err)
			}
			res, err = Remove(p, Options{})
			if err != nil {
				t.Fatalf("Remove: %v", err)
			}
			if back := mustRead(t, p); !res.Exact || !bytes.Equal(back, orig) {
				t.Errorf("Remove of the re-stamped %s stamp: Exact %v, identical %v; want both", commit, res.Exact, bytes.Equal(back, orig))
			}

			// Stamping the original now gives a note with an undo record,
			// which removes exactly too.
			if err := os.WriteFile(p, orig, 0o755); err != nil {
				t.Fatal(err)
			}
			res, err = Stamp(p, want, Options{})
			if err != nil {
				t.Fatal(err)
			}
			took[res.Strategy]++
			if g, err := ReadFile(p); err != nil || g.Note.UndoOff == 0 {
				t.Errorf("a new stamp of %s has no undo record: %+v, %v", name, g, err)
			}
			if res, err := Remove(p, Options{}); err != nil || !res.Exact || !bytes.Equal(mustRead(t, p), orig) {
				t.Errorf("Remove of a new stamp of %s = %+v, %v; want the original", name, res, err)
			}
		})
	}
	t.Logf("new stamps of the same fixtures: %v", took)
}
