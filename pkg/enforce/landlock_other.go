//go:build !linux

package enforce

import (
	"fmt"
	"runtime"
)

// LandlockABI is only available on Linux; elsewhere it returns an error
// matching ErrNoLandlock.
func LandlockABI() (int, error) {
	return 0, fmt.Errorf("%w: Landlock is Linux's (%s)", ErrNoLandlock, runtime.GOOS)
}

// ScopePtrace is only available on Linux; elsewhere it returns an error
// matching ErrNoLandlock.
func ScopePtrace() error {
	return fmt.Errorf("%w: Landlock is Linux's (%s)", ErrNoLandlock, runtime.GOOS)
}
