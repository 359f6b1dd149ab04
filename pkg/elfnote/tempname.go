package elfnote

import (
	"path/filepath"
	"strings"
)

// IsTemp reports whether the base name of name is one a stamper gives the
// new file it is about to rename over another, ".NAME.sysrestrict-new":
// a stamper's file in the making, or the leftover of one that was killed
// (docs/stamping.md), never a file of its own. Tools that walk a tree of
// files to stamp pass over such names.
func IsTemp(name string) bool {
	base := filepath.Base(name)
	const suffix = ".sysrestrict-new"
	return len(base) > 1+len(suffix) && base[0] == '.' && strings.HasSuffix(base, suffix)
}
