package enforce

// installExec is in exec_linux_amd64.s.
//
//go:noescape
func installExec(fprog, fd, path, argv, envp, secret, ruleset uintptr) (stage, errno uintptr)

// lockThread reports whether Exec must lock the goroutine to its thread
// around installExec. The assembly version cannot be moved between threads.
const lockThread = false
