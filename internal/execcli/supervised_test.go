//go:build linux

package execcli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sysrestrict/sysrestrict/pkg/profile"
)

// TestLearnSignalFromScript is issue 14's case, through the commands: a
// script starts sysrestrict-exec --learn (or --explain) in the
// background and sends it SIGINT (kill -INT $!). The program gets it:
// one that handles it exits 7, one with SIGINT's default action dies of
// it, and the script's wait sees that status (130 = 128 + SIGINT); the
// learned profile records the run.
func TestLearnSignalFromScript(t *testing.T) {
	need(t)
	const script = `"$LOADER" "$@" > "$OUT" & pid=$!
until grep -q ready "$OUT"; do sleep 0.01; done
kill -INT $pid
wait $pid
echo "status $?"`
	for _, tt := range []struct {
		mode           []string
		action         string
		status, output string // the script's wait; the program's stdout
		run            string // the profile's record of the run
	}{
		{[]string{"--learn"}, "catch", "status 7\n", "ready\ncaught SIGINT 1\n", "exit 7"},
		{[]string{"--learn"}, "die", "status 130\n", "ready\n", "signal SIGINT"},
		{[]string{"--explain", "--deny", "ptrace"}, "catch", "status 7\n", "ready\ncaught SIGINT 1\n", ""},
		{[]string{"--explain", "--deny", "ptrace"}, "die", "status 130\n", "ready\n", ""},
	} {
		name := tt.mode[0] + " " + tt.action
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			prof, out := filepath.Join(dir, "p.json"), filepath.Join(dir, "out")
			args := append([]string{"-c", script, "sh"}, tt.mode...)
			if tt.mode[0] == "--learn" {
				args = append(args, prof)
			}
			args = append(args, signals, tt.action, "INT")
			r := runCmd(t, append(os.Environ(), "LOADER="+loader, "OUT="+out), "sh", args...)
			b, _ := os.ReadFile(out)
			if r.stdout != tt.status || string(b) != tt.output {
				t.Errorf("%s: script %v, program printed %q; want %q, %q", name, r, b, tt.status, tt.output)
			}
			if tt.run == "" {
				return
			}
			p, err := profile.ReadFile(prof)
			if err != nil {
				t.Fatalf("%s: the profile: %v", name, err)
			}
			if len(p.Runs) != 1 || p.Runs[0].Status != tt.run {
				t.Errorf("%s: profile runs %+v, want one that ended %q", name, p.Runs, tt.run)
			}
		})
	}
}

// TestLearnChecksProfileFirst: --learn into a file that cannot take the
// run fails at once with 125 and a message naming the file and what is
// wrong, and the program does not run (it would make a file).
func TestLearnChecksProfileFirst(t *testing.T) {
	need(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	cut := filepath.Join(dir, "cut.json")
	if err := os.WriteFile(cut, []byte("{\n  \"version\": 1,\n  \"syscalls\": [\n    {\"abi\": \"x86_64\", \"nr\": 0, \"na"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "no", "p.json")
	for _, tt := range []struct{ path, want string }{
		{cut, "sysrestrict-exec: --learn " + cut + ": malformed profile at byte 68 (line 4, column 35): unexpected end of input: the profile stops in the middle (the file is cut short); a run cannot be merged into it: repair it, remove it or learn into another file; nothing was run\n"},
		{missing, "sysrestrict-exec: --learn " + missing + ": cannot write the profile: cannot create a file in " + filepath.Dir(missing) + ": no such file or directory; nothing was run\n"},
	} {
		r := load(t, "--learn", tt.path, "sh", "-c", "touch "+marker)
		if r.status != 125 || r.stderr != tt.want {
			t.Errorf("--learn %s: %v; want exit 125 and stderr %q", tt.path, r, tt.want)
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("--learn %s ran the program", tt.path)
		}
	}
}

// TestLearnUnwritableDirectory: as a user who cannot write in the
// profile's directory, --learn fails before the program runs.
func TestLearnUnwritableDirectory(t *testing.T) {
	need(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root: to run as nobody in a directory nobody may not write")
	}
	// A directory nobody can reach but not write; t.TempDir is 0700.
	dir, err := os.MkdirTemp("", "execcli-learn")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"sysrestrict-exec", "sysrestrict-supervise"} {
		copyFile(t, filepath.Join(filepath.Dir(loader), name), filepath.Join(dir, name), 0o755)
	}
	prof := filepath.Join(dir, "p.json")
	cmd := exec.Command(filepath.Join(dir, "sysrestrict-exec"), "--learn", prof, "sh", "-c", "echo ran")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	want := "sysrestrict-exec: --learn " + prof + ": cannot write the profile: cannot create a file in " + dir + ": permission denied; nothing was run\n"
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 125 || stdout.String() != "" || stderr.String() != want {
		t.Errorf("--learn into a directory nobody cannot write, as nobody: %v, stdout %q, stderr %q; want 125, nothing run, %q", err, stdout.String(), stderr.String(), want)
	}
}
