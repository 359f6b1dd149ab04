//go:build linux

package elfnote

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// Stamp gives the named file (a symlink is followed: its target is stamped)
// a note holding set with the actions Options.Actions, or with
// Options.Replace unset the union of set and the note already there, each
// syscall with the stricter of its two actions (kill over errno over log;
// of two errnos the new one), and the stricter default; less Options.Lift. See
// docs/stamping.md for how the file is written safely. With
// Options.Embed, or when the file is embedded already, the file also gets
// the start-up stub that installs the note's filter, actions included
// (docs/embed.md).
func Stamp(name string, set bitmap.Set, opts Options) (*Result, error) {
	return modify("stamp", name, opts, func(im *image) (*Plan, error) {
		act := opts.Actions
		if !opts.Replace {
			var before bitmap.Set
			var beforeAct Actions
			stamped := true
			if im.damage != nil {
				var err error
				if before, beforeAct, err = im.damagedPolicy(); err != nil {
					return nil, fmt.Errorf("%w; its restrictions cannot be read (%v): stamp it with the full set, replacing the note", im.damage, err)
				}
			} else {
				f, err := im.file()
				if err != nil {
					return nil, err
				}
				before, beforeAct, stamped = f.Set, f.Actions, f.Stamped
			}
			set = set.WithABI(before.ABI())
			if stamped {
				var err error
				if act, err = accumulate(before, beforeAct, set, act); err != nil {
					return nil, err
				}
			}
			set = set.Union(before)
		}
		lift := opts.Lift
		lift.SetDenyBeyond(false)
		return im.planStamp(set.Difference(lift), act.without(lift), opts.Embed)
	})
}

// Remove removes the note from the named file; ErrNoNote if it has none.
func Remove(name string, opts Options) (*Result, error) {
	return modify("remove", name, opts, (*image).planRemove)
}

// step runs the test hook of opts (Options.hook) before a step of a write;
// an error makes the step fail.
func (opts *Options) step(name string) error {
	if opts.hook != nil {
		return opts.hook(name)
	}
	return nil
}

// modify runs plan on the named file and writes the result. Its errors are
// *fs.PathError values for name, with op "stamp" or "remove".
func modify(op, name string, opts Options, plan func(*image) (*Plan, error)) (*Result, error) {
	target, err := filepath.EvalSymlinks(name)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	for range 100 {
		res, err := modifyOnce(target, opts, plan)
		if !errors.Is(err, errRetry) {
			if err != nil {
				return nil, &fs.PathError{Op: op, Path: name, Err: err}
			}
			return res, nil
		}
	}
	return nil, &fs.PathError{Op: op, Path: name, Err: errors.New("the file keeps being replaced while being stamped")}
}

var errRetry = errors.New("retry")

func modifyOnce(target string, opts Options, plan func(*image) (*Plan, error)) (*Result, error) {
	f, fi, err := openRegular(target)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	how := unix.LOCK_EX
	if opts.DryRun || opts.Output != "" {
		how = unix.LOCK_SH
	}
	if err := flock(f, how); err != nil {
		return nil, fmt.Errorf("locking: %w", err)
	}
	// Another stamper may have renamed a new file over the path while we
	// waited for the lock: then stamp that one.
	if now, err := os.Stat(target); err != nil || !os.SameFile(now, fi) {
		return nil, errRetry
	}
	if err := opts.step("plan"); err != nil {
		return nil, err
	}
	res := &Result{Path: target, DryRun: opts.DryRun}
	if opts.Output == "" {
		if err := checkLinks(fi, opts.Links); err != nil {
			return nil, err
		}
	}
	if how == unix.LOCK_EX {
		// Under the exclusive lock no other stamper is writing this file:
		// a temporary file of its name, or of one of its links' names, is
		// a killed stamper's.
		res.Reclaimed = reclaimTemp(target)
		for _, l := range opts.Links {
			if r := reclaimTemp(l); r != "" && res.Reclaimed != "" {
				res.Reclaimed += " and " + r
			} else if r != "" {
				res.Reclaimed = r
			}
		}
	}
	im, err := parseLenient(f)
	if err != nil {
		return nil, err
	}
	p, err := plan(im)
	if err != nil {
		return nil, err
	}
	res.Before, res.After, res.Changed, res.Strategy, res.Exact, res.Embedded = p.Before, p.After, p.Changed(), p.Strategy, p.Exact, p.Embedded
	res.BeforeActions, res.AfterActions = p.BeforeActions, p.AfterActions
	if !res.Changed {
		res.Strategy = StrategyNone
	}
	if opts.DryRun || (!res.Changed && opts.Output == "") {
		return res, nil
	}
	if opts.Output == "" && p.Strategy == StrategyRewrite && p.AddsOnly && !killedByWrite(f, fi) && !(opts.KeepOtherNames && hasOtherNames(fi, opts.Links)) {
		err := writeInPlace(target, fi, p, &opts)
		if !errors.Is(err, unix.ETXTBSY) {
			res.InPlace, res.Output = true, target
			return res, err
		}
		// The program is running: the kernel refuses writes to it, but a
		// new file can replace it.
	}
	dest := target
	if opts.Output != "" {
		dest = opts.Output
	}
	res.Output = dest
	res.Dropped, err = replace(f, fi, dest, p, dest == target, &opts)
	return res, err
}

// killedByWrite reports whether writing to the file would take from it
// what a packager relies on: the kernel clears setuid and setgid on a
// write by a process without CAP_FSETID and removes security.capability on
// any write (security/commoncap.c, cap_inode_killpriv), and security.ima
// and security.evm would keep signing the old bytes. Such a file is never
// written in place: the new file gets its metadata before the rename.
func killedByWrite(f *os.File, fi os.FileInfo) bool {
	if fi.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0 {
		return true
	}
	for _, name := range []string{"security.capability", "security.ima", "security.evm"} {
		if _, err := unix.Fgetxattr(int(f.Fd()), name, nil); err == nil {
			return true
		}
	}
	return false
}

// fakerootMetadata gives dst, in the fakeroot(1) session this stamper runs
// in, the owner, group and mode that src has there. fakeroot fakes them in
// its daemon, keyed by inode, for the programs whose libc calls it
// intercepts; a Go program's system calls bypass it, and the new file is a
// new inode, which the daemon knows nothing of: without this a package
// built under fakeroot (dpkg-buildpackage, makepkg, abuild) would ship the
// stamped file with the builder's owner instead of, say, root:man. chown
// and chmod are the session's own, run on both files through this
// process's descriptors.
func fakerootMetadata(src, dst *os.File) error {
	self := "/proc/" + strconv.Itoa(os.Getpid()) + "/fd/"
	from := self + strconv.Itoa(int(src.Fd()))
	to := self + strconv.Itoa(int(dst.Fd()))
	// chown first: in the session, as in the kernel, it may clear setuid.
	for _, argv := range [][]string{{"chown", "--reference=" + from, to}, {"chmod", "--reference=" + from, to}} {
		if _, out, err := runTool(argv, nil); err != nil {
			return fmt.Errorf("keeping the owner and mode fakeroot gave %s: %s: %w: %s", src.Name(), argv[0], err, bytes.TrimSpace(out))
		}
	}
	// fakeroot fakes extended attributes too (setcap and setfattr in the
	// session set none on the disk): carry them over with the session's
	// getfattr and setfattr (package attr), where it has them.
	if _, err := lookPath("getfattr"); err != nil {
		return nil
	}
	dump, out, err := runTool([]string{"getfattr", "--dump", "--match=-", "--encoding=hex", "--absolute-names", from}, nil)
	if err != nil {
		return fmt.Errorf("reading the extended attributes fakeroot gave %s: %w: %s", src.Name(), err, bytes.TrimSpace(out))
	}
	lines := bytes.Split(dump, []byte("\n"))
	keep := [][]byte{[]byte("# file: " + to)}
	for _, l := range lines {
		name, _, ok := bytes.Cut(l, []byte("="))
		if ok && !bytes.HasPrefix(l, []byte("#")) && !droppedXattrs[string(name)] {
			keep = append(keep, l)
		}
	}
	if len(keep) == 1 {
		return nil
	}
	if _, out, err := runTool([]string{"setfattr", "--restore=-"}, append(bytes.Join(keep, []byte("\n")), '\n')); err != nil {
		return fmt.Errorf("keeping the extended attributes fakeroot gave %s: %w: %s", src.Name(), err, bytes.TrimSpace(out))
	}
	return nil
}

// lookPath finds name in PATH.
func lookPath(name string) (string, error) {
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if p := filepath.Join(dir, name); dir != "" && isExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH", name)
}

// runTool runs argv (argv[0] found in PATH) with this process's environment
// and stdin as its standard input, and returns what it wrote to stdout and
// stderr (up to 1 MiB each). It uses os.StartProcess, not os/exec: the
// loader links this package, and os/exec brings context and its init into
// every exec it does (TestLoaderImports).
func runTool(argv []string, stdin []byte) (stdout, stderr []byte, err error) {
	prog, err := lookPath(argv[0])
	if err != nil {
		return nil, nil, err
	}
	var files [3]*os.File
	var ours []*os.File // our ends: stdin's writer, stdout's and stderr's readers
	for i := range files {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, nil, err
		}
		if i == 0 {
			files[i] = r
			ours = append(ours, w)
		} else {
			files[i] = w
			ours = append(ours, r)
		}
		defer files[i].Close()
		defer ours[i].Close()
	}
	p, err := os.StartProcess(prog, argv, &os.ProcAttr{Files: files[:]})
	for _, f := range files {
		f.Close()
	}
	if err != nil {
		return nil, nil, err
	}
	go func() {
		ours[0].Write(stdin)
		ours[0].Close()
	}()
	done := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(ours[1], 1<<20))
		done <- b
	}()
	stderr, _ = io.ReadAll(io.LimitReader(ours[2], 1<<20))
	stdout = <-done
	st, err := p.Wait()
	if err != nil {
		return stdout, stderr, err
	}
	if !st.Success() {
		return stdout, stderr, fmt.Errorf("%s", st)
	}
	return stdout, stderr, nil
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// droppedXattrs are the extended attributes a new file does not get: they
// sign the old bytes (IMA's hash or signature, EVM's HMAC over the
// metadata), so kept they would make an appraising kernel refuse the
// stamped file, or vouch for bytes it no longer has.
var droppedXattrs = map[string]bool{"security.ima": true, "security.evm": true}

// setModTime gives the file f (named or not) the modification time t,
// leaving its access time; the zero t leaves the time the writes gave it.
func setModTime(f *os.File, t time.Time) error {
	if t.IsZero() {
		return nil
	}
	ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, unix.NsecToTimespec(t.UnixNano())}
	if err := unix.UtimesNano(procFd(int(f.Fd())), ts); err != nil {
		return fmt.Errorf("setting the modification time: %w", err)
	}
	return nil
}

func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// writeInPlace writes a plan that only sets bits of the note: a torn write
// leaves a note between the old and the new one, never looser than the old.
func writeInPlace(target string, fi os.FileInfo, p *Plan, opts *Options) error {
	w, err := os.OpenFile(target, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer w.Close()
	if wfi, err := w.Stat(); err != nil || !os.SameFile(wfi, fi) {
		return errors.New("the file was replaced while being stamped")
	}
	for _, pt := range p.Patches {
		if err := opts.step("write"); err != nil {
			return err
		}
		if _, err := w.WriteAt(pt.Data, pt.Off); err != nil {
			return err
		}
	}
	if err := setModTime(w, opts.ModTime); err != nil {
		return err
	}
	if err := opts.step("fsync"); err != nil {
		return err
	}
	return w.Sync()
}

// replace writes the planned result to a new file beside dest, with src's
// owner, mode and extended attributes, and renames it over dest. On error
// the new file is removed and dest is untouched.
//
// The new file has no name until it is complete (newTemp): a stamper
// killed while writing it leaves nothing behind, not even a hidden copy
// with the target's setuid bits or capabilities. docs/stamping.md says
// what remains of the window between naming it and the rename.
func replace(src *os.File, fi os.FileInfo, dest string, p *Plan, locked bool, opts *Options) (dropped []string, err error) {
	if err := opts.step("create"); err != nil {
		return nil, err
	}
	tmp, err := newTemp(dest, locked, opts)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			tmp.discard()
		}
	}()
	if err := opts.step("copy"); err != nil {
		return nil, err
	}
	// io.CopyN between two *os.File uses copy_file_range(2): the kernel
	// copies, or shares extents on filesystems that can.
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if _, err := io.CopyN(tmp.f, src, p.Cut); err != nil {
		return nil, fmt.Errorf("copying: %w", err)
	}
	if p.Size != p.Cut {
		if err := tmp.f.Truncate(p.Size); err != nil {
			return nil, err
		}
	}
	for _, pt := range p.Patches {
		if err := opts.step("patch"); err != nil {
			return nil, err
		}
		if _, err := tmp.f.WriteAt(pt.Data, pt.Off); err != nil {
			return nil, err
		}
	}
	if err := opts.step("metadata"); err != nil {
		return nil, err
	}
	if dropped, err = copyMetadata(src, tmp.f, fi); err != nil {
		return nil, err
	}
	if os.Getenv("FAKEROOTKEY") != "" {
		if err := fakerootMetadata(src, tmp.f); err != nil {
			return nil, err
		}
	}
	if err := setModTime(tmp.f, opts.ModTime); err != nil {
		return nil, err
	}
	if err := opts.step("fsync"); err != nil {
		return nil, err
	}
	if err := tmp.f.Sync(); err != nil {
		return nil, err
	}
	if err := opts.step("link"); err != nil {
		return nil, err
	}
	if err := tmp.link(); err != nil {
		return nil, err
	}
	links := opts.Links
	if !locked {
		links = nil // -o: the input's links are not the output's
	}
	if len(links) > 0 {
		// Until every link names the new file, a stamper that opens the
		// file by its new name waits, as one that opened the old one does.
		if err := flock(tmp.f, unix.LOCK_EX); err != nil {
			return nil, fmt.Errorf("locking the new file: %w", err)
		}
	}
	if err := opts.step("rename"); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp.name, dest); err != nil {
		return nil, err
	}
	tmp.name = "" // renamed: nothing to remove any more
	opts.syncDir(dest)
	if err := relink(tmp.f, fi, links, opts); err != nil {
		return nil, err
	}
	tmp.f.Close()
	return dropped, nil
}

// syncDir fsyncs the directory of name, whose entry a rename replaced, or
// with Options.DirSynced leaves that to the caller.
func (opts *Options) syncDir(name string) {
	if opts.DirSynced != nil {
		opts.DirSynced(filepath.Dir(name))
		return
	}
	SyncDir(filepath.Dir(name))
}

// checkLinks checks that every one of links is a name of the file fi.
func checkLinks(fi os.FileInfo, links []string) error {
	for _, l := range links {
		lfi, err := os.Lstat(l)
		if err != nil {
			return fmt.Errorf("hard link %s: %w", l, err)
		}
		if !os.SameFile(lfi, fi) {
			return fmt.Errorf("%s is not a hard link of the file", l)
		}
	}
	return nil
}

// hasOtherNames reports whether the file fi has more names than one and
// links.
func hasOtherNames(fi os.FileInfo, links []string) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return !ok || uint64(st.Nlink) > uint64(1+len(links))
}

// relink gives each of links, the other names of the file old that was
// just replaced by f, the new file: f is linked to the link's temporary
// name (tempName) and that is renamed over it. A kill at any instant
// leaves each name the old file or the new one, never missing; between
// the two steps the temporary name is left, and the next stamp of the
// file removes it (reclaimTemp). The caller holds the old file's lock and
// f's: no other stamper is writing either.
func relink(f *os.File, old os.FileInfo, links []string, opts *Options) error {
	for _, l := range links {
		if err := opts.step("relink"); err != nil {
			return err
		}
		// Checked again: the names were checked before the write, but a
		// name that no longer is the old file is not ours to replace.
		if now, err := os.Lstat(l); err != nil || !os.SameFile(now, old) {
			return fmt.Errorf("stamped, but its hard link %s changed meanwhile and was left as it is", l)
		}
		tmp := tempName(l)
		link := func() error {
			return unix.Linkat(unix.AT_FDCWD, procFd(int(f.Fd())), unix.AT_FDCWD, tmp, unix.AT_SYMLINK_FOLLOW)
		}
		err := link()
		if errors.Is(err, unix.EEXIST) {
			os.Remove(tmp) // a killed stamper's (the caller holds the locks)
			err = link()
		}
		if err != nil {
			return fmt.Errorf("stamped, but its hard link %s still names the old file: linking %s: %w", l, tmp, err)
		}
		if err := opts.step("relink-rename"); err != nil {
			os.Remove(tmp)
			return err
		}
		if err := os.Rename(tmp, l); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("stamped, but its hard link %s still names the old file: %w", l, err)
		}
		opts.syncDir(l)
	}
	return nil
}

// copyMetadata gives dst src's owner, mode (setuid, setgid and sticky
// included) and extended attributes. The order matters: chown(2) clears
// setuid, setgid and security.capability, so the mode and the attributes
// come after it.
//
// It returns the attributes it did not copy (droppedXattrs).
func copyMetadata(src, dst *os.File, fi os.FileInfo) (dropped []string, err error) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if err := dst.Chown(int(st.Uid), int(st.Gid)); err != nil {
			if dfi, err2 := dst.Stat(); err2 != nil || dfi.Sys().(*syscall.Stat_t).Uid != st.Uid || dfi.Sys().(*syscall.Stat_t).Gid != st.Gid {
				return nil, fmt.Errorf("keeping the owner: %w", err)
			}
		}
	}
	mode := fi.Mode() & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky)
	if err := dst.Chmod(mode); err != nil {
		return nil, fmt.Errorf("keeping the mode: %w", err)
	}
	if dropped, err = copyXattrs(int(src.Fd()), int(dst.Fd())); err != nil {
		return nil, err
	}
	// chmod(2) drops setgid without an error for a caller outside the
	// file's group who lacks CAP_FSETID: fail rather than lose it.
	if dfi, err := dst.Stat(); err != nil {
		return nil, err
	} else if got := dfi.Mode() & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky); got != mode {
		return nil, fmt.Errorf("keeping the mode: the new file got %v, not %v (a setgid group you are not in needs CAP_FSETID)", got, mode)
	}
	return dropped, nil
}

func copyXattrs(src, dst int) (dropped []string, err error) {
	sz, err := unix.Flistxattr(src, nil)
	if errors.Is(err, unix.ENOTSUP) || sz == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing extended attributes: %w", err)
	}
	buf := make([]byte, sz)
	sz, err = unix.Flistxattr(src, buf)
	if err != nil {
		return nil, fmt.Errorf("listing extended attributes: %w", err)
	}
	for _, name := range splitNul(buf[:sz]) {
		if droppedXattrs[name] {
			dropped = append(dropped, name)
			continue
		}
		n, err := unix.Fgetxattr(src, name, nil)
		if err != nil {
			return nil, fmt.Errorf("reading extended attribute %s: %w", name, err)
		}
		val := make([]byte, n)
		if n, err = unix.Fgetxattr(src, name, val); err != nil {
			return nil, fmt.Errorf("reading extended attribute %s: %w", name, err)
		}
		if err := unix.Fsetxattr(dst, name, val[:n], 0); err != nil {
			return nil, fmt.Errorf("keeping extended attribute %s: %w", name, err)
		}
	}
	return dropped, nil
}

func splitNul(b []byte) []string {
	var out []string
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != 0 {
			i++
		}
		if i > 0 {
			out = append(out, string(b[:i]))
		}
		b = b[min(i+1, len(b)):]
	}
	return out
}
