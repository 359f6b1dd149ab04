//go:build !linux

package enforce

import (
	"fmt"
	"runtime"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
)

// Exec is only available on Linux; elsewhere it returns ErrUnsupported.
func Exec(p *filter.Program, argv, env []string, failPrefix string) error {
	return fmt.Errorf("%w (%s)", ErrUnsupported, runtime.GOOS)
}

// Restrict is only available on Linux; elsewhere it returns ErrUnsupported.
func Restrict(set bitmap.Set, act filter.Action) error {
	return fmt.Errorf("%w (%s)", ErrUnsupported, runtime.GOOS)
}

// ExecUnrestricted is only available on Linux; elsewhere it returns
// ErrUnsupported.
func ExecUnrestricted(fd int, argv, env []string) error {
	return fmt.Errorf("%w (%s)", ErrUnsupported, runtime.GOOS)
}

// NewSecret is only available on Linux; elsewhere it returns
// ErrUnsupported.
func NewSecret() (uint64, error) {
	return 0, fmt.Errorf("%w (%s)", ErrUnsupported, runtime.GOOS)
}
