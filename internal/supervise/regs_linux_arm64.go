package supervise

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// ntARMSystemCall is NT_ARM_SYSTEM_CALL (include/uapi/linux/elf.h): the
// regset holding the syscall number on arm64.
const ntARMSystemCall = 0x404

// setSyscallNr changes the number of the syscall a tracee stopped at.
// Not run by the test suite on this project's x86_64 machines.
func setSyscallNr(pid int, nr uint32) error {
	v := int32(nr)
	iov := unix.Iovec{Base: (*byte)(unsafe.Pointer(&v)), Len: 4}
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SETREGSET, uintptr(pid), ntARMSystemCall, uintptr(unsafe.Pointer(&iov)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// entryRegs returns the program counter and stack pointer of a tracee
// stopped at its exec (the stub skip, stub_linux.go): PTRACE_GETREGSET
// with NT_PRSTATUS, struct user_pt_regs. Not run by the test suite on
// this project's x86_64 machines (qemu-user cannot be traced).
func entryRegs(pid int) (pc, sp uint64, err error) {
	var regs unix.PtraceRegs
	if err := unix.PtraceGetRegs(pid, &regs); err != nil {
		return 0, 0, err
	}
	return regs.Pc, regs.Sp, nil
}

// setPC sets the program counter of a stopped tracee.
func setPC(pid int, pc uint64) error {
	var regs unix.PtraceRegs
	if err := unix.PtraceGetRegs(pid, &regs); err != nil {
		return err
	}
	regs.Pc = pc
	return unix.PtraceSetRegs(pid, &regs)
}
