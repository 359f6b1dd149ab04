package enforce

import (
	"encoding/binary"
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// NewSecret returns a fresh exec gate secret (filter.Values.Secret): 64
// random bits from getrandom(2), never zero.
func NewSecret() (uint64, error) {
	var b [8]byte
	for {
		// The raw syscall: unix.Getrandom's vDSO path maps and faults in
		// state pages, which cost the loader more start-up time than the
		// call (docs/exec.md, "Start-up").
		n, _, e := unix.RawSyscall(unix.SYS_GETRANDOM, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0)
		if e != 0 || n != uintptr(len(b)) {
			if e == 0 {
				e = syscall.EIO // a short read: not random enough
			}
			return 0, fmt.Errorf("getrandom: %w", e)
		}
		if secret := binary.LittleEndian.Uint64(b[:]); secret != 0 {
			return secret, nil
		}
	}
}
