//go:build !linux

package elfnote

import (
	"errors"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// Options control Stamp and Remove; see the Linux build.
type Options struct {
	Output  string
	DryRun  bool
	Replace bool
}

// Result says what Stamp or Remove did; see the Linux build.
type Result struct {
	Path          string
	Output        string
	Before, After bitmap.Set
	Changed       bool
	Strategy      Strategy
	InPlace       bool
	Exact         bool
	DryRun        bool
}

var errOS = errors.New("stamping files is implemented on Linux only; use PlanStamp and Plan.Apply")

// Stamp is implemented on Linux only.
func Stamp(name string, set bitmap.Set, opts Options) (*Result, error) { return nil, errOS }

// Remove is implemented on Linux only.
func Remove(name string, opts Options) (*Result, error) { return nil, errOS }
