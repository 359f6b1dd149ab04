// Package identity says which executable a file is, as a profile
// (pkg/profile) records it: the --learn and --audit supervisors identify
// what each process runs, the stamper the file it stamps, with the same
// function, so that the two always agree.
//
// It sits apart from pkg/profile so that the profile format does not
// depend on the ELF reader (pkg/elfnote's own tests read profiles).
package identity

import (
	"os"

	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
	"github.com/sysrestrict/sysrestrict/pkg/profile"
)

// Of returns the profile identity of the executable open as f, which was
// found at path: its build ID (elfnote.ReadIdentity), or, for a file
// without one, its size before it was stamped. A file that is no ELF file,
// or whose headers cannot be read, is identified by path and size. It
// fails only when f cannot be stat'ed.
func Of(f *os.File, path string) (profile.ID, error) {
	id := profile.ID{Path: path}
	if ei, err := elfnote.ReadIdentity(f); err == nil {
		if ei.BuildID != "" {
			id.BuildID = ei.BuildID
		} else {
			id.Size = ei.Size
		}
		return id, nil
	}
	fi, err := f.Stat()
	if err != nil {
		return id, err
	}
	id.Size = fi.Size()
	return id, nil
}
