//go:build linux

package supervise

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
	"github.com/sysrestrict/sysrestrict/pkg/profile"
)

// tools builds sysrestrict-stamp and sysrestrict-exec into dir.
func tools(t *testing.T, dir string) (stamp, loader string) {
	t.Helper()
	goTool := need(t, "go")
	stamp, loader = filepath.Join(dir, "sysrestrict-stamp"), filepath.Join(dir, "sysrestrict-exec")
	for bin, pkg := range map[string]string{stamp: "../../cmd/sysrestrict-stamp", loader: "../../cmd/sysrestrict-exec"} {
		if out, err := exec.Command(goTool, "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	return stamp, loader
}

// runCmd runs argv and returns its stdout and wait status.
func runCmd(t *testing.T, argv ...string) (string, unix.WaitStatus) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running %v: %v", argv, err)
	}
	if errb.Len() > 0 {
		t.Logf("%v stderr: %s", argv, errb.String())
	}
	return out.String(), unix.WaitStatus(cmd.ProcessState.Sys().(syscall.WaitStatus))
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestLearnStampExplain is issue 5's acceptance, end to end: for programs
// of the machine, learn a profile, stamp an allowlist from it into a copy,
// run the copy through sysrestrict-exec with the same output and status as
// the program unrestricted; then a use of the copy that needs a syscall the
// profile lacks dies of SIGSYS, and Explain names that syscall.
func TestLearnStampExplain(t *testing.T) {
	if testing.Short() {
		t.Skip("builds both tools: skipped with -short")
	}
	dir := t.TempDir()
	stamp, loader := tools(t, dir)
	data := filepath.Join(dir, "data.txt")
	if err := os.WriteFile(data, bytes.Repeat([]byte("sysrestrict learns\n"), 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(dir, "list")
	for _, d := range []string{"a", "b", "c"} {
		if err := os.MkdirAll(filepath.Join(list, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		program string   // copied and stamped
		learn   []string // arguments learned and checked
		other   []string // a use that needs more; nil: none checked
		missing string   // the syscall other needs that learn lacks
		runs    int      // extra learning runs merged
	}{
		{"ls", "ls", []string{"-la", list}, nil, "", 0},
		{"gzip", "gzip", []string{"-c", data}, []string{"-k", "-f", data}, "", 0},
		{"python3", "/usr/bin/python3", []string{"-c", "import json; print(1)"}, []string{"-c", "import socket; socket.socket()"}, "", 0},
		{"sh", "sh", []string{"-c", "ls " + list + " | wc -l"}, []string{"-c", "umask 077"}, "", 0},
		// The Go runtime's syscalls depend on timing (preemption signals,
		// GC, idle threads): learn a Go program over several runs, some
		// with GOGC=1.
		{"go", stamp, []string{"--list-syscalls", "--arch", "aarch64"}, nil, "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := tt.program
			if !strings.Contains(orig, "/") {
				orig = need(t, orig)
			}
			orig, err := filepath.EvalSymlinks(orig)
			if err != nil {
				t.Skipf("%s: %v", tt.program, err)
			}
			wantOut, wantWS := runCmd(t, append([]string{orig}, tt.learn...)...)

			argv := append([]string{orig}, tt.learn...)
			p := &profile.Profile{}
			for i := range tt.runs + 1 {
				var env []string
				if i > 0 {
					// Later runs with the collector at its busiest:
					// GC work brings the runtime's preemption signals
					// and memory returns that a quiet run may not make.
					env = []string{"GOGC=1"}
				}
				q, _, ws := record(t, argv, env...)
				if ws != wantWS {
					t.Fatalf("learning %v: %s, want %s", argv, Status(ws), Status(wantWS))
				}
				p = profile.Merge(p, q)
			}
			prof := filepath.Join(dir, tt.name+".profile.json")
			if err := profile.WriteFile(prof, p); err != nil {
				t.Fatal(err)
			}

			cp := filepath.Join(dir, tt.name+"-stamped")
			copyFile(t, orig, cp)
			if out, st := runCmd(t, stamp, "-q", "--allow-profile", prof, cp); st != 0 {
				t.Fatalf("sysrestrict-stamp --allow-profile: %s\n%s", Status(st), out)
			}
			f, err := elfnote.ReadFile(cp)
			if err != nil || !f.Stamped || !f.Set.DenyBeyond() {
				t.Fatalf("after stamping, %s: %+v, %v; want an allowlist note", cp, f, err)
			}

			out, ws := runCmd(t, append([]string{loader, cp}, tt.learn...)...)
			if out != wantOut || ws != wantWS {
				t.Errorf("sysrestrict-exec %s %v = %s, stdout %.200q; want %s, %.200q", tt.name, tt.learn, Status(ws), out, Status(wantWS), wantOut)
				_, _, log := explain(t, append([]string{cp}, tt.learn...), f.Set, bitmap.Set{})
				t.Logf("under Explain: %s", log)
			}
			if tt.other == nil {
				return
			}
			_, ws = runCmd(t, append([]string{loader, cp}, tt.other...)...)
			if !ws.Signaled() || ws.Signal() != unix.SIGSYS {
				t.Errorf("sysrestrict-exec %s %v = %s, want signal SIGSYS: the use needs more than was learned", tt.name, tt.other, Status(ws))
			}
			ws, _, log := explain(t, append([]string{cp}, tt.other...), f.Set, bitmap.Set{})
			if !ws.Signaled() || ws.Signal() != unix.SIGSYS {
				t.Errorf("Explain(%s %v) = %s, want signal SIGSYS", tt.name, tt.other, Status(ws))
			}
			m := killedLine.FindStringSubmatch(strings.SplitN(log, "\n", 2)[0])
			if m == nil || !strings.Contains(log, "is restricted by the note's allowlist; to allow it: sysrestrict-stamp --replace --allow-profile PROFILE --allow "+m[3]) {
				t.Fatalf("Explain(%s %v) log = %q, want a killed line with its stamp", tt.name, tt.other, log)
			}
			if tt.missing != "" && m[3] != tt.missing {
				t.Errorf("Explain(%s %v) named %s, want %s", tt.name, tt.other, m[3], tt.missing)
			}
			if learned := names(p, bitmap.X86_64); slices.Contains(learned, m[3]) {
				t.Errorf("Explain named %s, which the profile holds", m[3])
			}
		})
	}
}
