//go:build linux && amd64

package elfnote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/profile"
)

// The real-kernel tests of --embed: the embed-* and go-embed* victims of
// testdata/elf (src/embed.c, src/goembed), embedded, run directly, with no
// loader, in child processes only: the filter is the stub's, installed in
// the victim. Each is compared with the unembedded original.

// x86_64 numbers the victims are asked to call.
const (
	nrGetuid   = 102 // allowed: returns the same in every run
	nrPtrace   = 101 // denied
	nrKexecLd  = 246 // denied
	wantStatus = "NoNewPrivs:\t1\nSeccomp:\t2\n"
)

// proc is how a victim ended.
type proc struct {
	Stdout, Stderr string
	Exit           int // -1 if killed
	Signal         syscall.Signal
	Err            string
}

func runProc(dir string, argv ...string) proc {
	for range 50 {
		p := runProc1(dir, argv...)
		if !strings.Contains(p.Err, "text file busy") {
			return p
		}
		time.Sleep(20 * time.Millisecond)
	}
	return runProc1(dir, argv...)
}

func runProc1(dir string, argv ...string) proc {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	p := proc{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		ws := ee.Sys().(syscall.WaitStatus)
		p.Exit = ws.ExitStatus()
		if ws.Signaled() {
			p.Signal = ws.Signal()
		}
	case err != nil:
		p.Err = err.Error()
	}
	if ctx.Err() != nil {
		p.Err = "timeout"
	}
	return p
}

// embedVictims returns the runnable victims of the manifest.
func embedVictims(t *testing.T) []fixture {
	var vs []fixture
	for _, fx := range loadFixtures(t) {
		if (strings.HasPrefix(fx.File, "embed-") || strings.HasPrefix(fx.File, "go-embed")) && fx.Run != nil {
			vs = append(vs, fx)
		}
	}
	if len(vs) < 9 {
		t.Fatalf("fixtures.json lists %d embed victims, want the 9 kinds of issue 11", len(vs))
	}
	return vs
}

var learner struct {
	once sync.Once
	path string
	err  error
}

// buildLearner builds sysrestrict-exec and sysrestrict-supervise, whose
// --learn records the syscalls the allowlist test allows: the way a user
// learns a binary before embedding it.
func buildLearner(t *testing.T) string {
	learner.once.Do(func() {
		dir, err := os.MkdirTemp("", "embedrun-learner")
		if err != nil {
			learner.err = err
			return
		}
		out, err := exec.Command("go", "build", "-o", dir+"/",
			"github.com/sysrestrict/sysrestrict/cmd/sysrestrict-exec",
			"github.com/sysrestrict/sysrestrict/cmd/sysrestrict-supervise").CombinedOutput()
		if err != nil {
			learner.err = fmt.Errorf("go build: %v: %s", err, out)
		}
		learner.path = filepath.Join(dir, "sysrestrict-exec")
	})
	if learner.err != nil {
		t.Fatal(learner.err)
	}
	return learner.path
}

// TestEmbedRun embeds each victim with a denylist and with an allowlist
// learned from it, and runs it directly. Every allowed mode prints and
// exits as the original does (atexit handlers and library destructors
// included, which shows the entry registers survived the stub); status
// shows NoNewPrivs 1 and Seccomp 2; a denied syscall in the program, in a
// forked child, in a thread, and after an exec of an unembedded program
// dies of SIGSYS. Remove gives back the original bytes.
func TestEmbedRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the loader to learn the victims' allowlists; run without -short")
	}
	learn := buildLearner(t)
	for _, fx := range embedVictims(t) {
		t.Run(fx.File, func(t *testing.T) {
			t.Parallel()
			isC := !strings.HasPrefix(fx.File, "go-")
			allowed := [][]string{{"exit", "7"}, {"status"}, {"call", fmt.Sprint(nrGetuid)}, {"fork", fmt.Sprint(nrGetuid)},
				{"thread", fmt.Sprint(nrGetuid)}, {"exec", "/bin/true"}}
			if isC {
				allowed = append(allowed, []string{"atexit"})
			}
			origDir := t.TempDir()
			copyFile(t, filepath.Join(fixtureDir, fx.File), filepath.Join(origDir, fx.File))
			for _, lib := range fx.Beside {
				copyFile(t, filepath.Join(fixtureDir, lib), filepath.Join(origDir, lib))
			}
			orig := filepath.Join(origDir, fx.File)
			origBytes := mustRead(t, orig)

			// The allowlist: what the learner saw every allowed mode do,
			// three runs of each merged into one profile (the Go
			// runtime's syscalls vary a little from run to run:
			// sched_yield, for one, in 5 of 6).
			prof := filepath.Join(t.TempDir(), "profile.json")
			for range 3 {
				for _, args := range allowed {
					if p := runProc(origDir, append([]string{learn, "--learn", prof, "./" + fx.File}, args...)...); p.Err != "" || p.Signal != 0 {
						t.Fatalf("--learn %v: %+v", args, p)
					}
				}
			}
			pr, err := profile.ReadFile(prof)
			if err != nil {
				t.Fatal(err)
			}
			allow, err := pr.Set(bitmap.X86_64)
			if err != nil && !errors.Is(err, profile.ErrBeyond) {
				t.Fatal(err)
			}
			allowlist := bitmap.Allowlist(allow)
			if !allowlist.Has(nrPtrace) || !allowlist.DenyBeyond() {
				t.Fatalf("the learned allowlist %v allows ptrace", allowlist)
			}

			for _, pol := range []struct {
				name string
				set  bitmap.Set
			}{
				{"denylist", bitmap.NewSet(bitmap.X86_64, nrPtrace, nrKexecLd)},
				{"allowlist", allowlist},
			} {
				t.Run(pol.name, func(t *testing.T) {
					dir := t.TempDir()
					for _, lib := range fx.Beside {
						copyFile(t, filepath.Join(fixtureDir, lib), filepath.Join(dir, lib))
					}
					path := filepath.Join(dir, fx.File)
					copyFile(t, orig, path)
					res, err := Stamp(path, pol.set, Options{Embed: true})
					if err != nil || !res.Embedded || !res.Changed {
						t.Fatalf("Stamp(Embed) = %+v, %v", res, err)
					}
					if f, err := ReadFile(path); err != nil || f.Embed == nil || !f.Set.Equal(pol.set) {
						t.Fatalf("ReadFile = %+v, %v; want embedded with %v", f, err, pol.set)
					}
					for _, args := range allowed {
						a := runProc(origDir, append([]string{"./" + fx.File}, args...)...)
						b := runProc(dir, append([]string{"./" + fx.File}, args...)...)
						if args[0] == "status" {
							if a.Stdout != "NoNewPrivs:\t0\nSeccomp:\t0\n" || b.Stdout != wantStatus || b.Exit != 0 {
								t.Errorf("status: original %q, embedded %+v; want %q", a.Stdout, b, wantStatus)
							}
							continue
						}
						if diff := cmp.Diff(a, b); diff != "" {
							t.Errorf("%v: the embedded %s runs differently (-original +embedded):\n%s", args, fx.File, diff)
						}
						if args[0] == "exit" && (b.Exit != 7 || b.Stdout != fx.Stdout) {
							t.Errorf("exit 7: %+v, want %q and 7", b, fx.Stdout)
						}
						if args[0] == "atexit" {
							want := "hello from " + fx.File + "\natexit from " + fx.File + "\n"
							if strings.HasPrefix(b.Stdout, want) && strings.Contains(b.Stdout, "destructor from "+fx.File+"\n") &&
								(len(fx.Beside) == 0 || strings.Contains(b.Stdout, "destructor from libembed.so\n")) {
								continue
							}
							t.Errorf("atexit: %q; want the atexit handler's and every destructor's line", b.Stdout)
						}
					}

					// Denied: in the program, a forked child, a thread,
					// and after an exec of an unembedded program.
					nr := fmt.Sprint(nrPtrace)
					sigsys := func(what string, p proc) {
						t.Helper()
						if p.Signal != syscall.SIGSYS {
							t.Errorf("%s: %+v; want death by SIGSYS", what, p)
						}
					}
					if p := runProc(origDir, "./"+fx.File, "call", nr); p.Signal != 0 || p.Exit != 0 {
						t.Fatalf("the original's ptrace call: %+v; want it to run", p)
					}
					sigsys("call ptrace", runProc(dir, "./"+fx.File, "call", nr))
					sigsys("a thread's ptrace", runProc(dir, "./"+fx.File, "thread", nr))
					sigsys("ptrace after exec", runProc(dir, "./"+fx.File, "exec", orig, "call", nr))
					if p := runProc(dir, "./"+fx.File, "fork", nr); p.Stdout != fmt.Sprintf("child signal %d\n", syscall.SIGSYS) || p.Exit != 0 {
						t.Errorf("a forked child's ptrace: %+v; want the child dead of SIGSYS", p)
					}
					if p := runProc(origDir, "./"+fx.File, "fork", nr); p.Stdout != "child exit 0\n" {
						t.Errorf("the original's forked child: %+v", p)
					}

					// Re-stamping keeps it embedded, and Remove gives
					// back the original.
					if res, err := Stamp(path, bitmap.NewSet(bitmap.X86_64, 62), Options{}); err != nil || !res.Embedded || res.InPlace {
						t.Fatalf("re-stamp without Embed = %+v, %v; want embedded, not in place", res, err)
					}
					sigsys("call kill after the re-stamp", runProc(dir, "./"+fx.File, "call", "62"))
					if res, err := Remove(path, Options{}); err != nil || !res.Exact {
						t.Fatalf("Remove = %+v, %v", res, err)
					}
					if !bytes.Equal(mustRead(t, path), origBytes) {
						t.Errorf("Remove did not restore the original bytes")
					}
				})
			}
		})
	}
}
