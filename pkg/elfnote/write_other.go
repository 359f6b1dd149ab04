//go:build !linux

package elfnote

import (
	"errors"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

var errOS = errors.New("stamping files is implemented on Linux only; use PlanStamp and Plan.Apply")

// Stamp is implemented on Linux only.
func Stamp(name string, set bitmap.Set, opts Options) (*Result, error) { return nil, errOS }

// Remove is implemented on Linux only.
func Remove(name string, opts Options) (*Result, error) { return nil, errOS }
