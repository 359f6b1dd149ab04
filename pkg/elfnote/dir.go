package elfnote

import "os"

// SyncDir fsyncs the directory dir, so that the renames done in it are
// on disk. It is best effort: a rename is atomic without it, and done.
func SyncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
