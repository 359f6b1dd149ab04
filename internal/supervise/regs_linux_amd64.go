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
