//go:build linux

package execcli

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestScriptSwap renames a stamped ELF and a script over one path, over
// and over, while the loader runs that path 300 times: the ELF, whose note
// denies getppid, must never run without its filter. (The loader used to
// exec a script by path: 21 of 300 ran the ELF unfiltered.)
func TestScriptSwap(t *testing.T) {
	need(t)
	dir := t.TempDir()
	script, elf, path := filepath.Join(dir, "script"), stamped(t, false, "getppid"), filepath.Join(dir, "prog")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho script\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, script, path, 0o755)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tmp := filepath.Join(dir, "tmp")
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			from := script
			if i%2 == 1 {
				from = elf
			}
			os.Remove(tmp)
			if os.Link(from, tmp) == nil {
				os.Rename(tmp, path)
			}
			// Often enough to land between the loader's open and its
			// exec many times (sh reading the ELF as text shows it),
			// and not so often that the loop starves the runs.
			time.Sleep(100 * time.Microsecond)
		}
	}()
	counts := map[string]int{}
	for range 300 {
		r := load(t, path, "getppid")
		switch {
		case r.stdout == "ok\n":
			counts["ELF ran unfiltered"]++
		case r.stdout == "script\n":
			counts["script"]++
		case r.signal == syscall.SIGSYS:
			counts["ELF killed by its filter"]++
		default:
			counts["other: "+r.String()]++
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("300 runs: %v", counts)
	if n := counts["ELF ran unfiltered"]; n > 0 {
		t.Errorf("the stamped ELF ran without its filter in %d of 300 runs", n)
	}
	if counts["script"] == 0 || counts["ELF killed by its filter"] == 0 {
		t.Errorf("the swaps did not interleave with the runs (%v): the test proves nothing", counts)
	}
}

// TestScriptInterpreter: the loader runs a script's interpreter itself,
// through its descriptor, as the kernel would (argv, nesting, refusals),
// and enforces a stamped interpreter's note.
func TestScriptInterpreter(t *testing.T) {
	need(t)
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	outer := write("outer", "#!/bin/sh\necho \"$0|$*\"\n")
	inner := write("inner", "#!"+outer+" one two\n")
	wantExit(t, "nested #!", load(t, inner, "x"), 0, outer+"|one two "+inner+" x\n")
	wantExit(t, "nested #!, no loader", runCmd(t, nil, inner, "x"), 0, outer+"|one two "+inner+" x\n")

	// A stamped interpreter's note is enforced: the victim, run as
	// "victim getppid SCRIPT", with getppid denied.
	interp := stamped(t, false, "getppid")
	byVictim := write("by-victim", "#!"+interp+" getppid\n")
	wantSIGSYS(t, "stamped interpreter", load(t, byVictim))
	wantExit(t, "stamped interpreter, no loader", runCmd(t, nil, byVictim), 0, "ok\n")
	r := load(t, "-v", byVictim)
	if !strings.Contains(r.stderr, byVictim+": its #! interpreter "+interp+" (x86_64): kill on {getppid} (note)") {
		t.Errorf("-v of a script: stderr %q", r.stderr)
	}

	for _, tt := range []struct{ name, text, msg string }{
		{"no interpreter", "#!\n", "exec format error"},
		{"missing interpreter", "#!" + filepath.Join(dir, "nope") + "\n", "bad #! interpreter"},
		{"interpreter a directory", "#!" + dir + "\n", "bad #! interpreter"},
	} {
		r := load(t, write(strings.ReplaceAll(tt.name, " ", "-"), tt.text))
		wantExit(t, tt.name, r, 126, "")
		if !strings.Contains(r.stderr, tt.msg) {
			t.Errorf("%s: stderr %q, want %q", tt.name, r.stderr, tt.msg)
		}
	}
	loop := write("loop", "#!"+filepath.Join(dir, "loop")+"\n")
	r = load(t, loop)
	wantExit(t, "#! loop", r, 126, "")
	if !strings.Contains(r.stderr, "ELOOP") {
		t.Errorf("#! loop: stderr %q, want ELOOP", r.stderr)
	}
}
