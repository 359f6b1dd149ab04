package elfnote

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sysrestrict/sysrestrict/internal/hostcap"
)

const fixtureDir = "../../testdata/elf"

// fixture is one entry of testdata/elf/fixtures.json (its README describes
// the fields).
type fixture struct {
	File      string   `json:"file"`
	ABI       string   `json:"abi"`
	Kind      string   `json:"kind"`
	Expect    string   `json:"expect"`
	Run       []string `json:"run"`
	Needs     string   `json:"needs"`  // a host capability (internal/hostcap) running it needs
	Beside    []string `json:"beside"` // fixtures it needs in its directory to run (the libraries it loads)
	Args      []string `json:"args"`
	Stdout    string   `json:"stdout"`
	Exit      int      `json:"exit"`
	Dynamic   bool     `json:"dynamic"`
	Trace     []string `json:"trace"`
	SelfNotes []string `json:"self_notes"`
	Note      *struct {
		Deny       []int `json:"deny"`
		DenyBeyond bool  `json:"deny_beyond"`
	} `json:"note"`
}

// cannotRun returns why this host's kernel cannot run fx (a capability it
// needs and lacks, as internal/hostcap probes it), or "".
func cannotRun(t testing.TB, fx fixture) string {
	if fx.Needs == "" {
		return ""
	}
	c, err := hostcap.Parse(fx.Needs)
	if err != nil {
		t.Fatalf("fixtures.json: %s: %v", fx.File, err)
	}
	return hostcap.Missing(c)
}

func loadFixtures(t testing.TB) []fixture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, "fixtures.json"))
	if err != nil {
		t.Fatalf("reading the fixture manifest: %v", err)
	}
	var fx []fixture
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatalf("parsing fixtures.json: %v", err)
	}
	if len(fx) == 0 {
		t.Fatal("fixtures.json lists no fixtures")
	}
	return fx
}

// needTool skips the test when a tool is missing, or fails it under CI.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (CI=true: a missing tool is a failure)", name)
		}
		t.Skipf("%s is not installed: %v", name, err)
	}
	return p
}

// copyFile copies src to dst with src's mode.
func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, fi.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
}

// runOut is what a program did.
type runOut struct {
	Stdout, Stderr string
	Exit           int
	Err            string // other than a non-zero exit
}

// run runs argv in dir with stdin from /dev/null and a timeout.
//
// A program just written by this process can fail to start with ETXTBSY
// while another goroutine's fork still holds the writable descriptor (Go
// issue 22315): run retries then.
func run(dir string, timeout time.Duration, env []string, argv ...string) runOut {
	for range 50 {
		out := run1(dir, timeout, env, argv...)
		if !strings.Contains(out.Err, "text file busy") {
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
	return run1(dir, timeout, env, argv...)
}

func run1(dir string, timeout time.Duration, env []string, argv ...string) runOut {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	out := runOut{Stdout: stdout.String(), Stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		out.Exit = ee.ExitCode()
	} else if err != nil {
		out.Err = err.Error()
	}
	if ctx.Err() != nil {
		out.Err = "timeout"
	}
	return out
}

var hexAddr = regexp.MustCompile(`0x[0-9a-f]+`)

// stripAddrs hides load addresses (ASLR) in ld.so's trace output.
func stripAddrs(s string) string { return hexAddr.ReplaceAllString(s, "0x") }

// readelfNote checks readelf's view of a stamped file: a SysRestrict note
// with a 64-byte descriptor, a PT_NOTE at the note's offset and size and, if
// the file has sections, .note.sysrestrict at the same place.
func readelfNote(t *testing.T, path string, loc Location, sections bool) {
	t.Helper()
	readelf := needTool(t, "readelf")
	out, err := exec.Command(readelf, "-nW", path).CombinedOutput()
	if err != nil {
		t.Fatalf("readelf -n: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^\s+SysRestrict\s+0x00000040\s`).Match(out) {
		t.Errorf("readelf -n %s shows no SysRestrict note with a 64-byte descriptor:\n%s", path, out)
	}
	out, err = exec.Command(readelf, "-lSW", path).CombinedOutput()
	if err != nil {
		t.Fatalf("readelf -lSW: %v\n%s", err, out)
	}
	note := regexp.MustCompile(`(?m)^\s+NOTE\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s`)
	found := false
	for _, m := range note.FindAllStringSubmatch(string(out), -1) {
		if parseHex(m[1]) == uint64(loc.Offset) && parseHex(m[2]) == loc.Vaddr && parseHex(m[3]) == uint64(loc.Size) {
			found = true
		}
	}
	if !found {
		t.Errorf("readelf -l %s shows no PT_NOTE at offset %#x, address %#x, size %#x:\n%s", path, loc.Offset, loc.Vaddr, loc.Size, out)
	}
	sec := regexp.MustCompile(`(?m)\]\s+\.note\.sysrestrict\s+NOTE\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s`)
	m := sec.FindStringSubmatch(string(out))
	switch {
	case !sections && m != nil:
		t.Errorf("readelf -S %s shows a .note.sysrestrict section in a file without sections", path)
	case sections && m == nil:
		t.Errorf("readelf -S %s shows no .note.sysrestrict section:\n%s", path, out)
	case sections && (parseHex(m[1]) != loc.Vaddr || parseHex(m[2]) != uint64(loc.Offset) || parseHex(m[3]) != uint64(loc.Size)):
		t.Errorf("readelf -S %s: .note.sysrestrict at address %s offset %s size %s, want %#x %#x %#x", path, m[1], m[2], m[3], loc.Vaddr, loc.Offset, loc.Size)
	}
}

func parseHex(s string) uint64 {
	var v uint64
	for _, c := range strings.TrimPrefix(s, "0x") {
		v <<= 4
		switch {
		case c >= '0' && c <= '9':
			v |= uint64(c - '0')
		case c >= 'a' && c <= 'f':
			v |= uint64(c-'a') + 10
		}
	}
	return v
}

// elflint returns eu-elflint --gnu-ld's messages about path, as a set.
func elflint(t *testing.T, path string) map[string]bool {
	t.Helper()
	lint := needTool(t, "eu-elflint")
	out, _ := exec.Command(lint, "--gnu-ld", "-q", path).CombinedOutput()
	msgs := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		l = strings.TrimSpace(strings.ReplaceAll(l, path, "FILE"))
		// eu-elflint knows no note owner it does not ship a decoder
		// for; every sysrestrict note gets this line (docs/stamping.md).
		if strings.Contains(l, "with owner name 'SysRestrict'") {
			continue
		}
		if l != "" && l != "No errors" {
			msgs[l] = true
		}
	}
	return msgs
}
