package execcli

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// Supervisor runs --learn, --explain and --audit on a resolved Plan and ends the
// process as PROGRAM ended; it returns only with an exit status of its own.
// sysrestrict-supervise sets it (internal/supervisecli). The loader leaves it
// nil, and execs sysrestrict-supervise instead, so that the supervisor's
// code and start-up cost stay out of every restricted program's exec.
var Supervisor func(p *Plan) int

// supervisorName is the binary that sysrestrict-exec hands the supervising
// modes to, looked up in the loader's own directory.
const supervisorName = "sysrestrict-supervise"

// execSupervisor execs sysrestrict-supervise, from the directory the
// running loader was started from, with the loader's own arguments and
// environment. It returns only on failure.
func execSupervisor(args, env []string) error {
	self, err := os.Executable()
	if err != nil {
		return failWith(ExitUsage, err, "--learn, --explain and --audit: cannot find this program's directory to start ", supervisorName, ": ", err.Error())
	}
	path := filepath.Join(filepath.Dir(self), supervisorName)
	err = syscall.Exec(path, append([]string{path}, args[1:]...), env)
	return failWith(ExitUsage, err, "--learn, --explain and --audit are run by ", supervisorName, ", which should be installed beside ", self,
		" (make build puts both in bin/): ", path, ": ", errText(err))
}

// errText is an error's text without Go's "op path:" prefix.
func errText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return err.Error()
}
