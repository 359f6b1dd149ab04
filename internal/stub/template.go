package stub

import "github.com/sysrestrict/sysrestrict/pkg/bitmap"

//go:generate go run ../gen/stub -o zstub.go

// Template is the identity of the current templates, which an embedded
// binary's NT_SYSRESTRICT_EMBED note records (docs/note-format.md): a
// reader refuses a template it does not know. Parse accepts only the
// current templates' bytes, so a change to stub_x86_64.S or
// stub_aarch64.S that changes them must come with a new Template (and a
// reader that still knows the old one, if binaries with it are to keep
// verifying). TestTemplateIdentity holds the bytes' hashes to that.
const Template = 1

// A template is one ABI's stub as assembled from stub_<abi>.S (zstub.go):
// the code and messages up to the filter, with placeholders where Build
// writes what it learns at stamp time.
type template struct {
	abi  bitmap.ABI
	code []byte

	// filterLen is the offset of the little-endian u64 that is the
	// sock_fprog's len (u16) and its zero padding.
	filterLen int

	// entry is the offset of the jump to the original entry: x86_64, the
	// rel32 of a jmp (opcode 0xe9 before it); aarch64, three instructions.
	entry int

	// acceptENOSYS is the offset of aarch64's test switch (a u64 that
	// Build leaves 0), or -1 where the template has none.
	acceptENOSYS int
}

// templateFor returns abi's template.
func templateFor(abi bitmap.ABI) (*template, error) {
	switch abi {
	case bitmap.X86_64:
		return &templateX86_64, nil
	case bitmap.AARCH64:
		return &templateAARCH64, nil
	}
	return nil, &abiError{abi}
}

type abiError struct{ abi bitmap.ABI }

func (e *abiError) Error() string { return ErrABI.Error() + ": " + e.abi.String() }
func (e *abiError) Unwrap() error { return ErrABI }
