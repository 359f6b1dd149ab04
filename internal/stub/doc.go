// Package stub makes the start-up stubs of self-enforcing stamps
// (`sysrestrict-stamp --embed`, SPEC section 5; docs/embed.md): a few
// hundred bytes of machine code that a stamped binary runs before any code
// of its own, which set no_new_privs and install the binary's seccomp
// filter, or fail closed.
//
// It is pure and deterministic: it builds and tests on every OS, never
// talks to the kernel, and links nothing the loader's start-up cannot
// afford (no debug/elf, no tables built at init).
//
// # The payload
//
// [Build] returns the bytes the stamper loads, read-only and executable, at
// a virtual address of its choosing and makes the entry point:
//
//	code      endbr64 / bti jc; save registers; prctl; seccomp; restore;
//	          jump to the original entry; the failure path
//	messages  what the failure path writes
//	length    u64: the filter's instruction count (sock_fprog.len)
//	filter    8 bytes an instruction (struct sock_filter)
//
// The code and messages are a fixed template per ABI, assembled from the
// readable stub_x86_64.S and stub_aarch64.S by `go generate` into zstub.go
// (internal/gen/stub); a test assembles the sources again and compares.
// What Build writes is at fixed offsets: the length word and the jump to
// the original entry. Everything is PC-relative, so the same bytes work at
// any load bias (PIE, static-pie).
//
// # Recognising a payload
//
// [Parse] is Build's inverse: it accepts exactly the payloads Build makes,
// byte for byte, and returns the filter and entry they hold. That is how
// readers check that a binary's stub enforces what its note says.
//
// # ABIs
//
// x86_64 and aarch64. Any other ABI gets ErrABI.
package stub
