//go:build linux

package execcli

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Issue 14's acceptance test: a server whose background save fork()s
// (testdata/servers/bgsave.c, redis's BGSAVE in small), stamped with the
// real stamper, run by the real loader on the real kernel. glibc 2.36's
// fork() on x86_64 is a clone(2) (strace: clone(child_stack=NULL,
// flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD)), its
// pthread_create a clone3(2), and clone(2) again if clone3 fails with
// ENOSYS.

var servers struct {
	once         sync.Once
	stamper, bin string
	err          error
}

// bgsave returns a fresh copy of the built server and the stamper.
func bgsave(t *testing.T) (bin, stamper string) {
	t.Helper()
	need(t)
	servers.once.Do(func() {
		dir := filepath.Dir(loader) // TestMain's, removed at the end
		servers.stamper = filepath.Join(dir, "sysrestrict-stamp")
		if out, err := exec.Command("go", "build", "-o", servers.stamper, "github.com/sysrestrict/sysrestrict/cmd/sysrestrict-stamp").CombinedOutput(); err != nil {
			servers.err = fmt.Errorf("go build cmd/sysrestrict-stamp: %v: %s", err, out)
			return
		}
		servers.bin = filepath.Join(dir, "bgsave")
		src, _ := filepath.Abs("../../testdata/servers/bgsave.c")
		if out, err := exec.Command("cc", "-O2", "-Wall", "-pthread", "-o", servers.bin, src).CombinedOutput(); err != nil {
			servers.err = fmt.Errorf("cc bgsave.c: %v: %s", err, out)
		}
	})
	if servers.err != nil {
		t.Fatal(servers.err)
	}
	bin = filepath.Join(t.TempDir(), "bgsave")
	copyFile(t, servers.bin, bin, 0o755)
	return bin, servers.stamper
}

// stamp runs the stamper with args on bin.
func stampWith(t *testing.T, stamper, bin string, args ...string) {
	t.Helper()
	if out, err := exec.Command(stamper, append(args, "--", bin)...).CombinedOutput(); err != nil {
		t.Fatalf("sysrestrict-stamp %q: %v: %s", args, err, out)
	}
}

// server is a running bgsave and one client connection to it.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	conn   net.Conn
	r      *bufio.Reader
	stderr bytes.Buffer
	done   chan error
}

// startServer runs argv (the loader and its arguments, or the server
// alone) with DIR appended, and connects to the port it prints.
func startServer(t *testing.T, dir string, argv ...string) *server {
	t.Helper()
	s := &server{t: t, cmd: exec.Command(argv[0], append(argv[1:], dir)...), done: make(chan error, 1)}
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stderr = &s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	go func() { s.done <- s.cmd.Wait() }()
	var port int
	if _, serr := fmt.Sscanf(line, "listening %d", &port); err != nil || serr != nil {
		t.Fatalf("%q: first line %q, %v; stderr %q", argv, line, err, s.stderr.String())
	}
	if s.conn, err = net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	s.r = bufio.NewReader(s.conn)
	return s
}

// send sends one command and returns the answer ("" if the connection
// ended).
func (s *server) send(cmd string) string {
	s.t.Helper()
	s.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(s.conn, "%s\n", cmd); err != nil {
		return ""
	}
	line, _ := s.r.ReadString('\n')
	return strings.TrimSuffix(line, "\n")
}

// want sends cmd and fails unless the answer starts with prefix.
func (s *server) want(cmd, prefix string) {
	s.t.Helper()
	if got := s.send(cmd); !strings.HasPrefix(got, prefix) {
		s.t.Errorf("%s = %q, want %q...; server stderr %q", cmd, got, prefix, s.stderr.String())
	}
}

// wait returns how the server ended.
func (s *server) wait() result {
	s.t.Helper()
	select {
	case err := <-s.done:
		r := result{stderr: s.stderr.String()}
		if ee, ok := err.(*exec.ExitError); ok {
			ws := ee.Sys().(syscall.WaitStatus)
			r.status = ws.ExitStatus()
			if ws.Signaled() {
				r.signal = ws.Signal()
			}
		} else if err != nil {
			s.t.Fatal(err)
		}
		return r
	case <-time.After(10 * time.Second):
		s.t.Fatal("the server did not end")
		return result{}
	}
}

// dumped reports whether a background save wrote dir's dump.
func dumped(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "dump.txt"))
	return err == nil
}

// TestServerForkENOSYS: stamped --deny clone:ENOSYS and run by the loader,
// the server's BGSAVE fails with ENOSYS, and it keeps serving with its
// data; unrestricted, the same BGSAVE saves.
func TestServerForkENOSYS(t *testing.T) {
	bin, stamper := bgsave(t)
	dir := t.TempDir()
	s := startServer(t, dir, bin)
	s.want("SET before", "+OK")
	s.want("BGSAVE", "+Background saving started")
	time.Sleep(100 * time.Millisecond)
	s.want("LASTSAVE", "+ok")
	s.want("SHUTDOWN", "+bye")
	if r := s.wait(); r.status != 0 || r.signal != 0 || !dumped(dir) {
		t.Fatalf("unrestricted: %v, dump %v; want exit 0 and a dump", r, dumped(dir))
	}

	stampWith(t, stamper, bin, "--deny", "clone:ENOSYS")
	dir = t.TempDir()
	s = startServer(t, dir, loader, bin)
	s.want("SET kept", "+OK")
	for range 3 {
		s.want("BGSAVE", "-ERR fork: Function not implemented")
		s.want("PING", "+PONG")
	}
	s.want("GET", "+kept")
	s.want("LASTSAVE", "+none")
	s.want("THREAD", "+thread ok") // clone3: not restricted
	s.want("SHUTDOWN", "+bye")
	if r := s.wait(); r.status != 0 || r.signal != 0 || dumped(dir) {
		t.Errorf("--deny clone:ENOSYS: %v, dump %v; want exit 0 and no dump", r, dumped(dir))
	}
}

// TestServerForkKill: the same server stamped --deny clone (kill) dies at
// its BGSAVE, data and all: what issue 14 saw of redis.
func TestServerForkKill(t *testing.T) {
	bin, stamper := bgsave(t)
	stampWith(t, stamper, bin, "--deny", "clone")
	dir := t.TempDir()
	s := startServer(t, dir, loader, bin)
	s.want("SET lost", "+OK")
	if got := s.send("BGSAVE"); got != "" {
		t.Errorf("BGSAVE under kill = %q, want the connection to end", got)
	}
	if r := s.wait(); r.signal != syscall.SIGSYS || dumped(dir) {
		t.Errorf("--deny clone: %v, dump %v; want SIGSYS and no dump", r, dumped(dir))
	}
}

// TestServerForkGroup: --deny @fork:ENOSYS (every way to fork, the group's
// action given to each member): BGSAVE fails, and so does THREAD, whose
// clone3 and fallback clone both get ENOSYS; the server answers both and
// goes on.
func TestServerForkGroup(t *testing.T) {
	bin, stamper := bgsave(t)
	stampWith(t, stamper, bin, "--deny", "@fork:ENOSYS")
	s := startServer(t, t.TempDir(), loader, bin)
	s.want("BGSAVE", "-ERR fork: Function not implemented")
	s.want("THREAD", "-ERR pthread_create: ")
	s.want("PING", "+PONG")
	s.want("SHUTDOWN", "+bye")
	if r := s.wait(); r.status != 0 || r.signal != 0 {
		t.Errorf("--deny @fork:ENOSYS: %v, want exit 0", r)
	}
}

// TestClone3Fallback: --deny clone3:ENOSYS: glibc's pthread_create falls
// back to clone, and the thread runs; --explain names the clone3 that
// failed. With clone3 killed instead, the first thread kills the server.
func TestClone3Fallback(t *testing.T) {
	bin, stamper := bgsave(t)
	stampWith(t, stamper, bin, "--deny", "clone3:ENOSYS")
	s := startServer(t, t.TempDir(), loader, bin)
	s.want("THREAD", "+thread ok")
	s.want("THREAD", "+thread ok")
	s.want("BGSAVE", "+Background saving started") // fork is clone: allowed
	s.want("SHUTDOWN", "+bye")
	if r := s.wait(); r.status != 0 || r.signal != 0 {
		t.Errorf("--deny clone3:ENOSYS: %v, want exit 0", r)
	}

	s = startServer(t, t.TempDir(), loader, "--explain", bin)
	s.want("THREAD", "+thread ok")
	s.want("THREAD", "+thread ok")
	s.want("SHUTDOWN", "+bye")
	r := s.wait()
	if r.status != 0 || strings.Count(r.stderr, "sysrestrict-exec: ENOSYS to ") != 1 || !strings.Contains(r.stderr, "clone3 (435, x86_64) is restricted by the note") {
		t.Errorf("--explain, --deny clone3:ENOSYS: %v; want exit 0 and clone3's ENOSYS named once", r)
	}

	bin, _ = bgsave(t)
	stampWith(t, stamper, bin, "--deny", "clone3")
	s = startServer(t, t.TempDir(), loader, bin)
	s.want("PING", "+PONG")
	if got := s.send("THREAD"); got != "" {
		t.Errorf("THREAD under clone3 kill = %q, want the connection to end", got)
	}
	if r := s.wait(); r.signal != syscall.SIGSYS {
		t.Errorf("--deny clone3: %v, want SIGSYS", r)
	}
}
