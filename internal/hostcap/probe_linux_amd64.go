package hostcap

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// x32SyscallBit marks an x32 syscall number (arch/x86/include/uapi/asm/unistd.h
// __X32_SYSCALL_BIT).
const x32SyscallBit = 0x40000000

// probeX32 makes the x32 getpid (x32's table numbers it as x86_64 does,
// 39, with the x32 bit). A kernel without x32 returns ENOSYS. No filter is
// involved: the calling process has none (Probe is not called under one).
func probeX32() Result {
	const how = "x32 getpid (39 | 0x40000000)"
	pid, _, errno := unix.RawSyscall(x32SyscallBit|unix.SYS_GETPID, 0, 0, 0)
	if errno != 0 {
		return Result{How: fmt.Sprintf("%s: %v", how, errno)}
	}
	return Result{OK: true, How: fmt.Sprintf("%s: returned %d", how, pid)}
}
