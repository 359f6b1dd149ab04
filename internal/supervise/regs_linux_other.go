//go:build linux && !amd64 && !arm64

package supervise

func setSyscallNr(pid int, nr uint32) error { return ErrArch }

func entryRegs(pid int) (pc, sp uint64, err error) { return 0, 0, ErrArch }

func setPC(pid int, pc uint64) error { return ErrArch }
