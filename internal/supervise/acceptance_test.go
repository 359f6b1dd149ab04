//go:build linux

package supervise

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sysrestrict/sysrestrict/internal/identity"
	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
	"github.com/sysrestrict/sysrestrict/pkg/elfnote"
	"github.com/sysrestrict/sysrestrict/pkg/profile"
)

// workload is a real program of the machine, a use of it to learn, and
// a different use, in a directory whose state reset puts back before each
// run (a kill mid-way leaves it changed: sqlite3's WAL mode stays).
type workload struct {
	name    string
	program string // looked up in PATH (unless a path), symlinks resolved
	learn   []string
	other   []string
	reset   func(t *testing.T, dir string)
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func acceptanceWorkloads(t *testing.T) []workload {
	git := func(t *testing.T, dir string, args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE=2026-12-01T00:00:00Z", "GIT_COMMITTER_DATE=2026-12-01T00:00:00Z")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return []workload{{
		name: "jq", program: "jq",
		learn: []string{".", "d.json"},
		other: []string{"-L", "mods", "-n", `import "m" as m; m::f | todate | fromdate | localtime`},
		reset: func(t *testing.T, dir string) {
			writeFiles(t, dir, map[string]string{"d.json": `{"a":[1,2,3],"b":"x"}`, "mods/m.jq": "def f: 1425599507;\n"})
		},
	}, {
		// The case: WAL mode needs ftruncate, which a rollback
		// journal never did.
		name: "sqlite3", program: "sqlite3",
		learn: []string{"db", "insert into t values(1); select * from t;"},
		other: []string{"db", "pragma journal_mode=wal; insert into t values(2); select count(*) from t;"},
		reset: func(t *testing.T, dir string) {
			for _, f := range []string{"db", "db-wal", "db-shm", "db-journal"} {
				os.Remove(filepath.Join(dir, f))
			}
			out, err := exec.Command("sqlite3", filepath.Join(dir, "db"), "create table t(x); insert into t values(1);").CombinedOutput()
			if err != nil {
				t.Fatalf("sqlite3: %v\n%s", err, out)
			}
		},
	}, {
		// Learned on status, used for a merge (which starts git
		// maintenance, a child, under the same filter).
		name: "git", program: "git",
		learn: []string{"-C", "repo", "status", "--short"},
		other: []string{"-C", "repo", "-c", "core.pager=cat", "merge", "--no-edit", "side"},
		reset: func(t *testing.T, dir string) {
			repo := filepath.Join(dir, "repo")
			os.RemoveAll(repo)
			if err := os.MkdirAll(repo, 0o755); err != nil {
				t.Fatal(err)
			}
			git(t, repo, "init", "-q", "-b", "main")
			git(t, repo, "config", "user.email", "a@example.org")
			git(t, repo, "config", "user.name", "a")
			writeFiles(t, repo, map[string]string{"f": "x\n"})
			git(t, repo, "add", "f")
			git(t, repo, "commit", "-qm", "one")
			git(t, repo, "checkout", "-qb", "side")
			writeFiles(t, repo, map[string]string{"g": "y\n"})
			git(t, repo, "add", "g")
			git(t, repo, "commit", "-qm", "two")
			git(t, repo, "checkout", "-q", "main")
			writeFiles(t, repo, map[string]string{"h": "z\n"})
			git(t, repo, "add", "h")
			git(t, repo, "commit", "-qm", "three")
		},
	}, {
		name: "python3", program: "/usr/bin/python3",
		learn: []string{"-c", "import json; print(json.dumps([1]))"},
		other: []string{"-c", "import socket; s = socket.socket(); s.close(); print('ok')"},
		reset: func(t *testing.T, dir string) {},
	}}
}

// restrictedNames returns the names of the syscalls of abi in p that set
// restricts, sorted.
func restrictedNames(p *profile.Profile, set bitmap.Set) []string {
	var n []string
	for _, sc := range p.Syscalls() {
		if sc.ABI == set.ABI() && restricts(set, syscallInfo{Arch: set.ABI().AuditArch(), Nr: uint64(sc.Nr) | uint64(set.ABI().NrBase())}) {
			n = append(n, sc.Name)
		}
	}
	slices.Sort(n)
	return n
}

// TestAuditAcceptance is issue 14's acceptance for --audit, on real
// programs: learn one use, stamp the allowlist, then a different use under
// Audit lets every restricted syscall through in one run and names
// exactly those that Explain kills on, one per run, and those a learning
// run of that use makes beyond the allowlist; merging the audit's profile
// and stamping again makes the use pass enforced, with the output it has
// unrestricted.
func TestAuditAcceptance(t *testing.T) {
	if testing.Short() {
		t.Skip("builds both tools: skipped with -short")
	}
	dir := t.TempDir()
	stamp, loader := tools(t, dir)
	for _, w := range acceptanceWorkloads(t) {
		t.Run(w.name, func(t *testing.T) {
			orig, err := filepath.EvalSymlinks(need(t, w.program))
			if err != nil {
				t.Fatal(err)
			}
			work := filepath.Join(dir, w.name)
			if err := os.MkdirAll(work, 0o755); err != nil {
				t.Fatal(err)
			}
			run := func(argv []string) (string, string) {
				w.reset(t, work)
				cmd := exec.Command(argv[0], argv[1:]...)
				cmd.Dir = work
				var out bytes.Buffer
				cmd.Stdout = &out
				err := cmd.Run()
				return out.String(), errString(err)
			}
			t.Chdir(work)

			// 1. Learn one use (of the program where it is installed),
			// stamp an allowlist into a copy.
			w.reset(t, work)
			learned, _, ws := record(t, append([]string{orig}, w.learn...))
			if ws != 0 {
				t.Fatalf("learning %v: %s", w.learn, Status(ws))
			}
			learnedPath := filepath.Join(dir, w.name+".learned.json")
			if err := profile.WriteFile(learnedPath, learned); err != nil {
				t.Fatal(err)
			}
			// Under its own name: git dispatches on it.
			cp := filepath.Join(dir, w.name+"-stamped", filepath.Base(orig))
			if err := os.MkdirAll(filepath.Dir(cp), 0o755); err != nil {
				t.Fatal(err)
			}
			copyFile(t, orig, cp)
			if out, st := runCmd(t, stamp, "-q", "--allow-profile", learnedPath, cp); st != 0 {
				t.Fatalf("sysrestrict-stamp --allow-profile: %s\n%s", Status(st), out)
			}
			f, err := elfnote.ReadFile(cp)
			if err != nil || !f.Stamped || !f.Set.DenyBeyond() {
				t.Fatalf("%s after stamping: %+v, %v", cp, f, err)
			}
			note := f.Set
			wantOut, wantErr := run(append([]string{orig}, w.other...))

			// 2. The other use under Audit: it runs as unrestricted,
			// and the hits are named.
			w.reset(t, work)
			out, read := capture(t)
			cpf, err := os.Open(cp)
			if err != nil {
				t.Fatal(err)
			}
			r, ws, err := Audit(context.Background(), Config{Path: cp, File: cpf, Argv: append([]string{cp}, w.other...), Env: os.Environ(), Stdout: out}, note, bitmap.Set{})
			cpf.Close()
			if err != nil {
				t.Fatal(err)
			}
			if got := read(); got != wantOut || (ws != 0) != (wantErr != "") {
				t.Errorf("under Audit: %s, stdout %q; unrestricted: %q, %q", Status(ws), got, wantOut, wantErr)
			}
			var hits []string
			for _, h := range r.Hits {
				if h.ABI == note.ABI() && !slices.Contains(hits, h.ABI.Name(h.Nr)) {
					hits = append(hits, h.ABI.Name(h.Nr))
				}
				if h.Exe.Path == "" || h.Count == 0 || len(h.Pids) == 0 {
					t.Errorf("hit without its executable, count or thread: %+v", h)
				}
			}
			slices.Sort(hits)
			if len(hits) == 0 {
				t.Fatalf("the other use %v made no syscall the allowlist lacks: not a test of --audit", w.other)
			}
			var b bytes.Buffer
			WriteAuditSummary(&b, r, cp, "audit.json", note, bitmap.Set{}, elfnote.Actions{})
			t.Logf("Audit, one run:\n%s", b.String())
			for _, name := range hits {
				if !strings.Contains(b.String(), "  "+name+" (") {
					t.Errorf("summary does not name %s:\n%s", name, b.String())
				}
			}

			// 3. The same set, by learning the other use of the copy
			// (Record enforces nothing; a program may behave otherwise
			// elsewhere: python3 looks for its library beside itself):
			// what it makes that the note restricts.
			w.reset(t, work)
			other, _, _ := record(t, append([]string{cp}, w.other...))
			if want := restrictedNames(other, note); !slices.Equal(hits, want) {
				t.Errorf("Audit names %v; learning the use gives %v beyond the allowlist", hits, want)
			}

			// 4. The same set, by Explain: one kill per run, each named
			// syscall allowed for the next.
			var explained []string
			n := note
			for range 64 {
				w.reset(t, work)
				ws, log := explainEnv(t, append([]string{cp}, w.other...), n)
				if !ws.Signaled() {
					break
				}
				m := killedLine.FindStringSubmatch(strings.SplitN(log, "\n", 2)[0])
				if m == nil {
					t.Fatalf("Explain: %s, log %q; want a killed line", Status(ws), log)
				}
				explained = append(explained, m[3])
				n = n.Difference(bitmap.NewSet(n.ABI(), bitmap.X86_64.Lookup(m[3])...))
			}
			slices.Sort(explained)
			if !slices.Equal(hits, explained) {
				t.Errorf("Audit names %v in one run; Explain killed on %v, one run each", hits, explained)
			}

			// 5. Merged and stamped again, the other use passes enforced.
			auditPath := filepath.Join(dir, w.name+".audit.json")
			if err := profile.WriteFile(auditPath, r.Profile); err != nil {
				t.Fatal(err)
			}
			if out, st := runCmd(t, stamp, "-q", "--replace", "--allow-profile", learnedPath, "--allow-profile", auditPath, cp); st != 0 {
				t.Fatalf("sysrestrict-stamp again: %s\n%s", Status(st), out)
			}
			gotOut, gotErr := run(append([]string{loader, cp}, w.other...))
			if gotOut != wantOut || gotErr != wantErr {
				t.Errorf("enforced after the audit: stdout %q, %q; want %q, %q", gotOut, gotErr, wantOut, wantErr)
			}
		})
	}
}

// explainEnv runs argv under Explain, with this process's environment,
// and returns its status and lines.
func explainEnv(t *testing.T, argv []string, note bitmap.Set) (WaitStatus, string) {
	t.Helper()
	f, err := os.Open(argv[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out, _ := capture(t)
	var log bytes.Buffer
	ws, err := Explain(context.Background(), Config{Path: argv[0], File: f, Argv: argv, Env: os.Environ(), Stdout: out, Log: &log}, note, bitmap.Set{}, elfnote.Actions{})
	if err != nil {
		t.Fatalf("Explain(%v): %v", argv, err)
	}
	return ws, log.String()
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestAllowProfileThroughShell: learned through bash (bash -c "./jq ... |
// sort"), a profile gives a stamp of jq jq's own syscalls: bash's execve,
// clone, wait4, dup2 and pipe2 and sort's stay restricted, unless jq made
// them too; the stamped jq does the same work enforced.
func TestAllowProfileThroughShell(t *testing.T) {
	if testing.Short() {
		t.Skip("builds both tools: skipped with -short")
	}
	dir := t.TempDir()
	stamp, loader := tools(t, dir)
	bash, jqOrig := need(t, "bash"), need(t, "jq")
	need(t, "sort")
	jq := filepath.Join(dir, "jq")
	copyFile(t, jqOrig, jq)
	writeFiles(t, dir, map[string]string{"d.json": `{"b":2,"a":1}`})
	t.Chdir(dir)
	p, out, ws := record(t, []string{bash, "-c", "./jq -c 'to_entries[]' d.json | sort"})
	if ws != 0 || out != "{\"key\":\"a\",\"value\":1}\n{\"key\":\"b\",\"value\":2}\n" {
		t.Fatalf("learning through bash: %s, %q", Status(ws), out)
	}
	prof := filepath.Join(dir, "p.json")
	if err := profile.WriteFile(prof, p); err != nil {
		t.Fatal(err)
	}
	jqID := idOfFile(t, jq)
	own, err := p.For(jqID)
	if err != nil {
		t.Fatal(err)
	}
	if len(own.Executables) != 1 || !own.Executables[0].Matches(jqID) {
		t.Fatalf("p.For(jq) = %v, want jq's entry alone", own.Executables)
	}
	mine := map[string]bool{}
	for _, sc := range own.Syscalls() {
		mine[sc.Name] = true
	}
	if out, st := runCmd(t, stamp, "-q", "--allow-profile", prof, jq); st != 0 {
		t.Fatalf("sysrestrict-stamp --allow-profile: %s\n%s", Status(st), out)
	}
	f, err := elfnote.ReadFile(jq)
	if err != nil {
		t.Fatal(err)
	}
	var shells []string
	for _, name := range []string{"execve", "clone", "wait4", "dup2", "pipe2"} {
		if mine[name] {
			continue
		}
		shells = append(shells, name)
		if !f.Set.Has(bitmap.X86_64.Lookup(name)[0]) {
			t.Errorf("the stamp of jq allows %s, which only bash made", name)
		}
	}
	if len(shells) < 3 {
		t.Errorf("jq made %d of bash's execve, clone, wait4, dup2, pipe2: not a test of the selection", 5-len(shells))
	}
	t.Logf("restricted in jq's stamp, made by bash only: %v", shells)
	kept := bitmap.Allowlist(bitmap.NewSet(bitmap.X86_64)) // restricts all but @default
	for _, sc := range p.Syscalls() {
		allowed := sc.Nr < bitmap.Size && !f.Set.Has(sc.Nr)
		if allowed && !mine[sc.Name] && kept.Has(sc.Nr) {
			t.Errorf("the stamp of jq allows %s, which jq did not make (by %v)", sc.Name, p.MadeBy(sc.ABI, sc.Nr))
		}
		if mine[sc.Name] && !allowed {
			t.Errorf("the stamp of jq restricts %s, which jq made", sc.Name)
		}
	}
	got, ws := runCmd(t, loader, jq, "-c", "to_entries[]", "d.json")
	if ws != 0 || got != "{\"key\":\"b\",\"value\":2}\n{\"key\":\"a\",\"value\":1}\n" {
		t.Errorf("stamped jq, enforced: %s, %q", Status(ws), got)
	}
	// With --profile-all-executables, bash's are allowed too.
	if out, st := runCmd(t, stamp, "-q", "--replace", "--allow-profile", prof, "--profile-all-executables", jq); st != 0 {
		t.Fatalf("--profile-all-executables: %s\n%s", Status(st), out)
	}
	if f, err = elfnote.ReadFile(jq); err != nil || f.Set.Has(bitmap.X86_64.Lookup("pipe2")[0]) {
		t.Errorf("--profile-all-executables: %v, %v; want pipe2 (bash's) allowed", f.Set, err)
	}
}

func idOfFile(t *testing.T, path string) profile.ID {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	id, err := identity.Of(f, path)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
