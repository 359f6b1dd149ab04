package enforce

import (
	"runtime"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// NativeABI returns the ABI of the running program's own syscalls, or
// bitmap.Unknown on an architecture sysrestrict does not know. A loader
// passes it as filter.Options.GateABI: its own execveat is the gate's.
func NativeABI() bitmap.ABI {
	switch runtime.GOARCH {
	case "amd64":
		return bitmap.X86_64
	case "386":
		return bitmap.I386
	case "arm64":
		return bitmap.AARCH64
	case "arm":
		return bitmap.ARM
	}
	return bitmap.Unknown
}
