//go:build linux

package elfnote

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// sweepSkip names programs that must not be run with an argument they may
// not understand: they halt the machine, kill every process, format or
// check disks, or take over a terminal.
var sweepSkip = []string{
	"halt", "reboot", "poweroff", "shutdown", "init", "telinit", "runlevel", "ctrlaltdel",
	"killall5", "agetty", "getty", "sulogin", "mkfs", "mke2fs", "mkswap", "fsck", "e2fsck",
	"debugfs", "badblocks", "blkdiscard", "fsfreeze", "fstrim", "hwclock", "swapon", "swapoff",
	"wipefs", "sfdisk", "fdisk", "cfdisk", "switch_root", "pivot_root", "start-stop-daemon",
	"losetup", "e2scrub", "e4defrag", "tune2fs", "resize2fs", "nologin", "login", "su", "sulogin",
}

func sweepSkipped(name string) bool {
	for _, s := range sweepSkip {
		if name == s || strings.HasPrefix(name, s+".") {
			return true
		}
	}
	return false
}

// TestSweep stamps a copy of every ELF executable in /usr/bin and
// /usr/sbin and checks that each runs as before with --version: same exit
// status, same output (where two runs of the original agree and finish
// within 2 s). It also checks that Remove restores each one byte for byte,
// from the note's undo record.
//
// With SYSRESTRICT_LEGACY_STAMPER naming a sysrestrict-stamp built from a
// commit before the undo record (make testdata-legacy shows how to build
// one), each file is also stamped by it, and Remove must restore that
// copy byte for byte too, by the legacy removal.
func TestSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("the sweep of /usr/bin and /usr/sbin takes about a minute; run without -short")
	}
	if legacyStamper = os.Getenv("SYSRESTRICT_LEGACY_STAMPER"); legacyStamper != "" {
		t.Logf("also removing what %s stamped", legacyStamper)
	} else {
		t.Logf("SYSRESTRICT_LEGACY_STAMPER is not set: files stamped by an older stamper are not part of this sweep")
	}
	files := sweepFiles()
	type outcome struct {
		file, status, detail string
	}
	results := make(chan outcome)
	work := make(chan string)
	var wg sync.WaitGroup
	root := t.TempDir()
	for range 2 * runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				s, d := sweepOne(root, f)
				results <- outcome{f, s, d}
			}
		}()
	}
	go func() {
		for _, f := range files {
			work <- f
		}
		close(work)
		wg.Wait()
		close(results)
	}()
	counts := map[string]int{}
	var bad []string
	for r := range results {
		counts[r.status]++
		switch r.status {
		case "identical", "not-elf", "not-compared", "refused":
		default:
			bad = append(bad, fmt.Sprintf("%s: %s: %s", r.file, r.status, r.detail))
		}
		if r.status == "refused" || r.status == "inexact-remove" {
			t.Logf("%s: %s: %s", r.file, r.status, r.detail)
		}
	}
	elf := len(files) - counts["not-elf"]
	t.Logf("sweep: %d ELF executables: %d stamped, %d ran identically, %d not compared (no deterministic --version within 2 s), %d refused, %d failed",
		elf, elf-counts["refused"]-counts["stamp-failed"], counts["identical"], counts["not-compared"], counts["refused"], len(bad))
	t.Logf("strategies taken: %v", sweepStrategies.m)
	if legacyStamper != "" {
		t.Logf("legacy stamps removed byte for byte: %d", sweepStrategies.legacy)
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Error(b)
	}
}

// sweepFiles lists the regular files of /usr/bin and /usr/sbin that the
// sweep may run.
func sweepFiles() []string {
	var files []string
	for _, dir := range []string{"/usr/bin", "/usr/sbin"} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if e.Type().IsRegular() && !sweepSkipped(e.Name()) {
				files = append(files, filepath.Join(dir, e.Name()))
			}
		}
	}
	return files
}

// TestSweepEmbed is TestSweep with --embed --deny ptrace,kexec_load:
// each executable of /usr/bin and /usr/sbin is embedded (a copy), must
// read back embedded with its stub verified, run --version as the
// original does (same status and output, where two runs of the original
// agree within 2 s), and remove to its original bytes. It reports the
// largest growth of a file, and every file refused, with why.
func TestSweepEmbed(t *testing.T) {
	if testing.Short() {
		t.Skip("the sweep of /usr/bin and /usr/sbin takes about a minute; run without -short")
	}
	files := sweepFiles()
	type outcome struct {
		file, status, detail string
		grow, overPlain      int64
	}
	results := make(chan outcome)
	work := make(chan string)
	var wg sync.WaitGroup
	root := t.TempDir()
	for range 2 * runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				s, d, g, o := sweepEmbedOne(root, f)
				results <- outcome{f, s, d, g, o}
			}
		}()
	}
	go func() {
		for _, f := range files {
			work <- f
		}
		close(work)
		wg.Wait()
		close(results)
	}()
	counts := map[string]int{}
	var bad []string
	var largest, largestOver outcome
	for r := range results {
		counts[r.status]++
		switch r.status {
		case "identical", "not-elf", "not-compared", "refused":
		default:
			bad = append(bad, fmt.Sprintf("%s: %s: %s", r.file, r.status, r.detail))
		}
		if r.status == "refused" {
			t.Logf("%s: refused: %s", r.file, r.detail)
		}
		if r.grow > largest.grow {
			largest = r
		}
		if r.overPlain > largestOver.overPlain {
			largestOver = r
		}
	}
	elf := len(files) - counts["not-elf"]
	t.Logf("embed sweep: %d ELF executables: %d embedded, %d ran identically, %d not compared (no deterministic --version within 2 s), %d refused, %d failed",
		elf, elf-counts["refused"]-counts["stamp-failed"], counts["identical"], counts["not-compared"], counts["refused"], len(bad))
	t.Logf("largest growth: %s, %d bytes (%d over a plain stamp of it); largest over a plain stamp: %s, %d bytes (%d in all)",
		largest.file, largest.grow, largest.overPlain, largestOver.file, largestOver.overPlain, largestOver.grow)
	sort.Strings(bad)
	for _, b := range bad {
		t.Error(b)
	}
}

// sweepEmbedOne embeds and runs one program and says how it went, by how
// many bytes the file grew, and by how many more than with a plain stamp.
func sweepEmbedOne(root, path string) (status, detail string, grow, overPlain int64) {
	orig, err := os.ReadFile(path)
	if err != nil || len(orig) < 18 || !bytes.HasPrefix(orig, []byte("\x7fELF")) {
		return "not-elf", "", 0, 0
	}
	ef, err := Read(bytes.NewReader(orig))
	if err != nil {
		return "read-failed", err.Error(), 0, 0
	}
	if ef.Type != ET_EXEC && ef.Type != ET_DYN {
		return "not-elf", "", 0, 0
	}
	set := bitmap.NewSet(ef.ABI, 101, 246)
	plain, err := PlanStamp(bytes.NewReader(orig), set)
	if err != nil {
		return "stamp-failed", "plain stamp: " + err.Error(), 0, 0
	}
	base := filepath.Base(path)
	dir, err := os.MkdirTemp(root, base+"-")
	if err != nil {
		return "setup", err.Error(), 0, 0
	}
	defer os.RemoveAll(dir)
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.Mkdir(a, 0o755)
	os.Mkdir(b, 0o755)
	for _, d := range []string{a, b} {
		if err := os.WriteFile(filepath.Join(d, base), orig, 0o755); err != nil {
			return "setup", err.Error(), 0, 0
		}
	}
	stamped := filepath.Join(b, base)
	if _, err := Stamp(stamped, set, Options{Embed: true}); err != nil {
		if errors.Is(err, ErrAppendedData) || errors.Is(err, ErrUnsupported) {
			return "refused", err.Error(), 0, 0
		}
		return "stamp-failed", err.Error(), 0, 0
	}
	f, err := ReadFile(stamped)
	if err != nil || f.Embed == nil {
		return "stamp-failed", fmt.Sprintf("read back: %+v, %v", f, err), 0, 0
	}
	grow, overPlain = f.Size-int64(len(orig)), f.Size-plain.Size
	status = "not-compared"
	env := []string{"LANG=C", "LC_ALL=C", "HOME=" + dir, "TERM=dumb"}
	norm := func(o runOut, d string) runOut {
		o.Stdout = strings.ReplaceAll(o.Stdout, d, "DIR")
		o.Stderr = strings.ReplaceAll(o.Stderr, d, "DIR")
		return o
	}
	r1 := norm(run(a, 2*time.Second, env, "./"+base, "--version"), a)
	if r1.Err == "" {
		r2 := norm(run(a, 2*time.Second, env, "./"+base, "--version"), a)
		if r1 == r2 {
			status = "identical"
			if rs := norm(run(b, 2*time.Second, env, "./"+base, "--version"), b); rs != r1 && !sameRuns(a, b, base, env, norm, r1, rs) {
				return "ran-differently", fmt.Sprintf("original %+v, embedded %+v", r1, rs), grow, overPlain
			}
		}
	}
	if _, err := Remove(stamped, Options{}); err != nil {
		return "remove-failed", err.Error(), grow, overPlain
	}
	if back, _ := os.ReadFile(stamped); !bytes.Equal(back, orig) {
		return "inexact-remove", "Remove did not restore the original bytes", grow, overPlain
	}
	return status, "", grow, overPlain
}

// legacyStamper is SYSRESTRICT_LEGACY_STAMPER.
var legacyStamper string

var sweepStrategies = struct {
	sync.Mutex
	m      map[Strategy]int
	legacy int // legacy stamps removed exactly
}{m: map[Strategy]int{}}

// sweepOne stamps and runs one program and says how it went.
func sweepOne(root, path string) (status, detail string) {
	head := make([]byte, 18)
	if f, err := os.Open(path); err != nil {
		return "not-elf", err.Error()
	} else {
		n, _ := io.ReadFull(f, head)
		f.Close()
		if n < 18 || !bytes.HasPrefix(head, []byte("\x7fELF")) {
			return "not-elf", ""
		}
	}
	orig, err := os.ReadFile(path)
	if err != nil {
		return "not-elf", err.Error()
	}
	ef, err := Read(bytes.NewReader(orig))
	if err != nil {
		return "read-failed", err.Error()
	}
	if ef.Type != 2 && ef.Type != 3 { // ET_EXEC, ET_DYN
		return "not-elf", ""
	}
	base := filepath.Base(path)
	dir, err := os.MkdirTemp(root, base+"-")
	if err != nil {
		return "setup", err.Error()
	}
	defer os.RemoveAll(dir)
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.Mkdir(a, 0o755)
	os.Mkdir(b, 0o755)
	for _, d := range []string{a, b} {
		if err := os.WriteFile(filepath.Join(d, base), orig, 0o755); err != nil {
			return "setup", err.Error()
		}
	}
	stamped := filepath.Join(b, base)
	res, err := Stamp(stamped, bitmap.NewSet(ef.ABI, 59, 101), Options{})
	if err == nil {
		sweepStrategies.Lock()
		sweepStrategies.m[res.Strategy]++
		sweepStrategies.Unlock()
	}
	if err != nil {
		if errors.Is(err, ErrAppendedData) || errors.Is(err, ErrUnsupported) {
			return "refused", err.Error()
		}
		return "stamp-failed", err.Error()
	}
	if f, err := ReadFile(stamped); err != nil || !f.Stamped {
		return "stamp-failed", fmt.Sprintf("read back: %v", err)
	}
	status = "not-compared"
	env := []string{"LANG=C", "LC_ALL=C", "HOME=" + dir, "TERM=dumb"}
	norm := func(o runOut, d string) runOut {
		o.Stdout = strings.ReplaceAll(o.Stdout, d, "DIR")
		o.Stderr = strings.ReplaceAll(o.Stderr, d, "DIR")
		return o
	}
	r1 := norm(run(a, 2*time.Second, env, "./"+base, "--version"), a)
	if r1.Err == "" {
		r2 := norm(run(a, 2*time.Second, env, "./"+base, "--version"), a)
		if r1 == r2 {
			status = "identical"
			if rs := norm(run(b, 2*time.Second, env, "./"+base, "--version"), b); rs != r1 && !sameRuns(a, b, base, env, norm, r1, rs) {
				return "ran-differently", fmt.Sprintf("original %+v, stamped %+v", r1, rs)
			}
		}
	}
	if f, err := ReadFile(stamped); err != nil || f.Note.UndoOff == 0 {
		return "stamp-failed", fmt.Sprintf("no undo record: %v", err)
	}
	if _, err := Remove(stamped, Options{}); err != nil {
		return "remove-failed", err.Error()
	}
	if back, _ := os.ReadFile(stamped); !bytes.Equal(back, orig) {
		return "inexact-remove", "Remove did not restore the original bytes"
	}
	if legacyStamper != "" {
		old := filepath.Join(a, base)
		if out, err := exec.Command(legacyStamper, "--deny", "59,101", "-q", old).CombinedOutput(); err != nil {
			return "legacy-stamp-failed", fmt.Sprintf("%v: %s", err, out)
		}
		if f, err := ReadFile(old); err != nil || !f.Stamped || f.Note.UndoOff != 0 {
			return "legacy-stamp-failed", fmt.Sprintf("read back: %+v, %v", f, err)
		}
		if res, err := Remove(old, Options{}); err != nil || !res.Exact {
			return "legacy-remove-failed", fmt.Sprintf("%+v, %v", res, err)
		}
		if back, _ := os.ReadFile(old); !bytes.Equal(back, orig) {
			return "legacy-inexact-remove", "Remove did not restore the original bytes of the legacy stamp"
		}
		sweepStrategies.Lock()
		sweepStrategies.legacy++
		sweepStrategies.Unlock()
	}
	return status, ""
}

// sameRuns looks again at a program whose stamped run differed from the
// original's: some programs are not quite deterministic (groff prints its
// parallel subprograms' versions in the order they finish). It runs each
// copy up to four more times and accepts the stamped copy if one of its
// outputs equals one of the original's, or if every run of both prints the
// same lines in some order with the same status: a stamping bug that only
// reordered lines is not plausible, a scheduling race is.
func sameRuns(a, b, base string, env []string, norm func(runOut, string) runOut, r1, rs runOut) bool {
	origs, stamps := []runOut{r1}, []runOut{rs}
	for range 4 {
		origs = append(origs, norm(run(a, 2*time.Second, env, "./"+base, "--version"), a))
		stamps = append(stamps, norm(run(b, 2*time.Second, env, "./"+base, "--version"), b))
	}
	for _, o := range origs {
		for _, s := range stamps {
			if o == s {
				return true
			}
		}
	}
	sorted := func(o runOut) runOut {
		for _, f := range []*string{&o.Stdout, &o.Stderr} {
			lines := strings.Split(*f, "\n")
			slices.Sort(lines)
			*f = strings.Join(lines, "\n")
		}
		return o
	}
	want := sorted(r1)
	for _, o := range append(origs, stamps...) {
		if sorted(o) != want {
			return false
		}
	}
	return true
}
