package bitmap

import "testing"

func TestParseABI(t *testing.T) {
	for _, abi := range ABIs {
		got, err := ParseABI(abi.String())
		if err != nil || got != abi {
			t.Errorf("ParseABI(%q) = %v, %v, want %v", abi.String(), got, err, abi)
		}
	}
	for alias, want := range map[string]ABI{"amd64": X86_64, "arm64": AARCH64, "386": I386, "armhf": ARM, "X86_64": X86_64} {
		if got, err := ParseABI(alias); err != nil || got != want {
			t.Errorf("ParseABI(%q) = %v, %v, want %v", alias, got, err, want)
		}
	}
	if _, err := ParseABI("s390x"); err == nil {
		t.Errorf("ParseABI(%q) = nil error, want an error", "s390x")
	}
}
