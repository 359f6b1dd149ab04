package execcli

import (
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/sysrestrict/sysrestrict/pkg/enforce"
	"github.com/sysrestrict/sysrestrict/pkg/filter"
)

// program builds the filter of a restricted plan, with the exec gate for
// the loader's own execveat, and renders into it a fresh secret and the
// plan's descriptor.
func program(p *Plan) (*filter.Program, error) {
	secret, err := enforce.NewSecret()
	if err != nil {
		return nil, failWith(ExitUsage, err, err.Error())
	}
	f, err := filter.Build(p.Set, filter.Options{Action: p.Actions.Default, Overrides: p.Actions.Overrides, Gate: true, GateABI: enforce.NativeABI(), StubCalls: p.embedded()})
	if err == nil {
		err = f.Render(filter.Values{Secret: secret, Fd: p.File.Fd})
	}
	if err != nil {
		return nil, failWith(ExitCannotRun, err, p.Path, ": ", err.Error())
	}
	return f, nil
}

// dump prints the filter the loader would install for p.
func dump(p *Plan, format string, w io.Writer) error {
	if !p.Restricted {
		if format == "text" {
			io.WriteString(w, "# "+p.Path+": no sysrestrict note and no --deny: runs without a filter\n")
		}
		return nil
	}
	f, err := program(p)
	if err != nil {
		return err
	}
	if format == "raw" {
		_, err = w.Write(f.Bytes())
		return err
	}
	io.WriteString(w, "# "+p.Path+" ("+p.Set.ABI().String()+"): "+enforced(p)+"\n")
	_, err = io.WriteString(w, f.String())
	return err
}

// run execs the plan: through the filter when it is restricted, directly
// otherwise. It returns only on failure.
func run(p *Plan) error {
	if p.Verbose {
		io.WriteString(p.Stderr, describe(p)+"\n")
	}
	if !p.Restricted {
		return execPlain(p)
	}
	if p.Verbose {
		io.WriteString(p.Stderr, describeLandlock(p.Path)+"\n")
		if p.embedded() {
			io.WriteString(p.Stderr, tool+": "+p.Path+": embedded: its start-up stub installs the note's filter too, stacked on this one;"+
				" this one lets the stub's prctl(PR_SET_NO_NEW_PRIVS, 1) and seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC) through\n")
		}
	}
	f, err := program(p)
	if err != nil {
		return err
	}
	err = enforce.Exec(f, p.Argv, p.Env, tool+": "+p.Path+": exec under the filter failed, nothing was run")
	return failWith(ExitUsage, err, p.Path, ": cannot install the filter, nothing was run: ", err.Error())
}

// execPlain execs an unrestricted plan through its descriptor, never by
// path, so that no file renamed over the path since it was checked runs
// instead. A script's plan is its interpreter's by now (script.go). Any
// other file is left to the kernel's binfmt_misc handlers, which get
// /dev/fd/N for a descriptor (execveat(2)): for them it stays open across
// the exec.
func execPlain(p *Plan) error {
	if p.Kind != KindELF {
		if _, err := unix.FcntlInt(uintptr(p.File.Fd), unix.F_SETFD, 0); err != nil {
			return failWith(ExitCannotRun, err, p.Path, ": ", errText(err))
		}
	}
	err := enforce.ExecUnrestricted(p.File.Fd, p.Argv, p.Env)
	return failWith(ExitCannotRun, err, p.Path, ": cannot execute: ", errText(err))
}

// describeLandlock returns the -v line on the Landlock domain enforce.Exec
// puts the program in: it keeps the program from taking over its parent
// (docs/exec.md, "Threat model").
func describeLandlock(path string) string {
	abi, err := enforce.LandlockABI()
	if err == nil {
		return tool + ": " + path + ": in a Landlock domain (ABI " + strconv.Itoa(abi) + "): cannot ptrace, or read or write the memory of, processes outside its own tree"
	}
	line := tool + ": " + path + ": warning: " + err.Error() + ": it can ptrace, and write the memory of, processes outside its filter, such as its parent"
	if b, err := os.ReadFile("/proc/sys/kernel/yama/ptrace_scope"); err == nil && len(b) > 0 && b[0] >= '1' && b[0] <= '3' {
		return line + ", but for Yama (ptrace_scope " + string(b[:1]) + "), which denies it that for its parent"
	}
	return line + "; Yama's kernel.yama.ptrace_scope >= 1 would deny it that for its parent"
}
