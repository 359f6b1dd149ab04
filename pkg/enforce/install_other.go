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
