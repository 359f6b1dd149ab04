package bitmap

import (
	"fmt"
	"strings"
)

// ABI is a system call ABI: the numbering that gives each syscall number its
// meaning. The zero value, Unknown, stands for a machine outside SPEC's
// table: such a binary can be stamped by number, never by name, and the
// loader refuses to run it. See docs/note-format.md.
type ABI uint8

// The ABIs of SPEC section 1.
const (
	Unknown ABI = iota
	X86_64      // EM_X86_64, ELFCLASS64
	X32         // EM_X86_64, ELFCLASS32: x86_64's arch, numbers | X32SyscallBit
	I386        // EM_386
	AARCH64     // EM_AARCH64
	ARM         // EM_ARM, EABI
)

// Audit architecture values from the kernel's include/uapi/linux/audit.h:
// what seccomp_data.arch holds for a syscall of each ABI.
const (
	AUDIT_ARCH_X86_64  = 0xc000003e
	AUDIT_ARCH_I386    = 0x40000003
	AUDIT_ARCH_AARCH64 = 0xc00000b7
	AUDIT_ARCH_ARM     = 0x40000028
)

// X32SyscallBit is __X32_SYSCALL_BIT (arch/x86/include/uapi/asm/unistd.h):
// x32 syscalls reach the kernel, and seccomp, as x86_64 syscalls with this
// bit set in the number.
const X32SyscallBit = 0x40000000

// ABIs lists the known ABIs in a stable order.
var ABIs = []ABI{X86_64, X32, I386, AARCH64, ARM}

var abiNames = [...]string{
	Unknown: "unknown",
	X86_64:  "x86_64",
	X32:     "x32",
	I386:    "i386",
	AARCH64: "aarch64",
	ARM:     "arm",
}

// String returns the ABI's canonical name, as --arch takes it.
func (a ABI) String() string {
	if int(a) < len(abiNames) {
		return abiNames[a]
	}
	return fmt.Sprintf("ABI(%d)", uint8(a))
}

// Known reports whether a is one of the ABIs of SPEC's table.
func (a ABI) Known() bool { return a > Unknown && int(a) < len(abiNames) }

// AuditArch returns the seccomp_data.arch value of the ABI's syscalls, or 0
// for Unknown.
func (a ABI) AuditArch() uint32 {
	switch a {
	case X86_64, X32:
		return AUDIT_ARCH_X86_64
	case I386:
		return AUDIT_ARCH_I386
	case AARCH64:
		return AUDIT_ARCH_AARCH64
	case ARM:
		return AUDIT_ARCH_ARM
	}
	return 0
}

// NrBase returns what the ABI adds to a syscall number on its way to the
// kernel: X32SyscallBit for x32, 0 otherwise.
func (a ABI) NrBase() uint32 {
	if a == X32 {
		return X32SyscallBit
	}
	return 0
}

// ParseABI returns the ABI with the given name. It takes the canonical
// names and the usual aliases (amd64, 386, arm64, armhf, ...).
func ParseABI(name string) (ABI, error) {
	switch strings.ToLower(name) {
	case "x86_64", "x86-64", "amd64":
		return X86_64, nil
	case "x32":
		return X32, nil
	case "i386", "i686", "386", "x86":
		return I386, nil
	case "aarch64", "arm64":
		return AARCH64, nil
	case "arm", "armhf", "armel", "arm-eabi":
		return ARM, nil
	}
	return Unknown, fmt.Errorf("unknown ABI %q (known: x86_64, x32, i386, aarch64, arm)", name)
}
