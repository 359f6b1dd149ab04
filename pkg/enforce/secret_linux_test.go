package enforce

import "testing"

// TestNewSecret: secrets are never zero and never repeat (64 bits: a
// repeat in 100 draws would mean they are not random).
func TestNewSecret(t *testing.T) {
	seen := map[uint64]bool{}
	for range 100 {
		s, err := NewSecret()
		if err != nil {
			t.Fatal(err)
		}
		if s == 0 || seen[s] {
			t.Fatalf("NewSecret() = %#x after %d draws: zero or a repeat", s, len(seen))
		}
		seen[s] = true
	}
}
