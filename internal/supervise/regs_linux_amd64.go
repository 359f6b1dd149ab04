package supervise

import "golang.org/x/sys/unix"

// setSyscallNr changes the number of the syscall a tracee stopped at
// (orig_rax, which seccomp and the syscall dispatch read on x86_64).
func setSyscallNr(pid int, nr uint32) error {
	var regs unix.PtraceRegs
	if err := unix.PtraceGetRegs(pid, &regs); err != nil {
		return err
	}
	regs.Orig_rax = uint64(nr)
	return unix.PtraceSetRegs(pid, &regs)
}

// entryRegs returns the program counter and stack pointer of a tracee
// stopped at its exec (the stub skip, stub_linux.go).
func entryRegs(pid int) (pc, sp uint64, err error) {
	var regs unix.PtraceRegs
	if err := unix.PtraceGetRegs(pid, &regs); err != nil {
		return 0, 0, err
	}
	return regs.Rip, regs.Rsp, nil
}

// setPC sets the program counter of a stopped tracee.
func setPC(pid int, pc uint64) error {
	var regs unix.PtraceRegs
	if err := unix.PtraceGetRegs(pid, &regs); err != nil {
		return err
	}
	regs.Rip = pc
	return unix.PtraceSetRegs(pid, &regs)
}
