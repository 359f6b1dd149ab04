//go:build !linux

package enforce

import (
	"fmt"
	"runtime"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// Exec is only available on Linux; elsewhere it returns ErrUnsupported.
func Exec(f *Filter, argv, env []string, failPrefix string) error {
	return fmt.Errorf("%w (%s)", ErrUnsupported, runtime.GOOS)
}

// Restrict is only available on Linux; elsewhere it returns ErrUnsupported.
func Restrict(set bitmap.Set, opts Options) error {
	return fmt.Errorf("%w (%s)", ErrUnsupported, runtime.GOOS)
}
