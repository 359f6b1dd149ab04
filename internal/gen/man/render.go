package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/sysrestrict/sysrestrict/internal/execcli"
	"github.com/sysrestrict/sysrestrict/internal/stampcli"
	"github.com/sysrestrict/sysrestrict/internal/version"
)

// A Page is one man page: a command's --help, parsed.
type Page struct {
	Name     string   // the command
	Help     string   // its --help, as printed
	Summary  string   // the NAME line's text after the dash
	Synopsis []string // the usage lines
	Intro    []string // a paragraph put first in DESCRIPTION (not from --help)
	// Sections of the body, by title, in the order of man-pages(7).
	Description, Options, Examples, ExitStatus, Notes []block
	SeeAlso                                           []string // other pages, "name(1)"
}

// A block is a paragraph, a preformatted example or an option.
type block struct {
	kind  blockKind
	title string   // an example's heading line ("Examples:"), if any; an option's term
	lines []string // the text, one --help line each
}

type blockKind int

const (
	paragraph blockKind = iota
	example
	option
)

// File is the page's file name.
func (p *Page) File() string { return p.Name + ".1" }

// Pages runs each command's --help and parses it.
func Pages() ([]*Page, error) {
	var stamp, exec bytes.Buffer
	if st := stampcli.Run([]string{"sysrestrict-stamp", "--help"}, &stamp, io.Discard); st != 0 {
		return nil, fmt.Errorf("sysrestrict-stamp --help: exit %d", st)
	}
	if st := execcli.Run([]string{"sysrestrict-exec", "--help"}, nil, &exec, io.Discard); st != 0 {
		return nil, fmt.Errorf("sysrestrict-exec --help: exit %d", st)
	}
	ps, err := parseCLI("sysrestrict-stamp", stamp.String())
	if err != nil {
		return nil, err
	}
	ps.SeeAlso = []string{"sysrestrict-exec(1)", "sysrestrict-supervise(1)", "dh_sysrestrict(1)"}
	pe, err := parseUsage("sysrestrict-exec", exec.String())
	if err != nil {
		return nil, err
	}
	pe.SeeAlso = []string{"sysrestrict-stamp(1)", "sysrestrict-supervise(1)", "seccomp(2)"}

	// sysrestrict-supervise prints sysrestrict-exec's --help: it takes the
	// same command line, and is run by sysrestrict-exec.
	pv, err := parseUsage("sysrestrict-supervise", exec.String())
	if err != nil {
		return nil, err
	}
	pv.Summary = "run sysrestrict-exec's --learn and --explain modes"
	pv.Synopsis[0] = strings.Replace(pv.Synopsis[0], "sysrestrict-exec", "sysrestrict-supervise", 1)
	pv.Intro = []string{
		"sysrestrict-exec runs sysrestrict-supervise, from the directory it is in itself,",
		"with its own arguments, for --learn and --explain: the ptrace supervisor is a",
		"program of its own so that the loader, which starts on every exec, does not",
		"carry it. Run by hand it behaves as sysrestrict-exec, whose help follows.",
	}
	pv.SeeAlso = []string{"sysrestrict-exec(1)", "sysrestrict-stamp(1)", "ptrace(2)"}
	return []*Page{ps, pe, pv}, nil
}

// parseCLI parses the help of a urfave/cli app: "HEADING:" lines at the
// left margin, each followed by lines indented by three spaces.
func parseCLI(name, text string) (*Page, error) {
	p := &Page{Name: name, Help: text}
	sections := map[string][]string{}
	var order []string
	cur := ""
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if l != "" && l[0] != ' ' && strings.HasSuffix(l, ":") {
			cur = strings.TrimSuffix(l, ":")
			order = append(order, cur)
			continue
		}
		if cur == "" {
			return nil, fmt.Errorf("%s --help: text before the first heading: %q", name, l)
		}
		sections[cur] = append(sections[cur], strings.TrimPrefix(l, "   "))
	}
	for _, h := range order {
		lines := trimBlank(sections[h])
		switch h {
		case "NAME":
			if len(lines) != 1 {
				return nil, fmt.Errorf("%s --help: NAME has %d lines, want 1", name, len(lines))
			}
			n, summary, ok := strings.Cut(lines[0], " - ")
			if !ok || n != name {
				return nil, fmt.Errorf("%s --help: NAME is %q, want %q", name, lines[0], name+" - ...")
			}
			p.Summary = summary
		case "USAGE":
			p.Synopsis = lines
		case "VERSION":
			// The page's header says which version it documents.
		case "DESCRIPTION":
			p.body(lines)
		case "OPTIONS", "GLOBAL OPTIONS":
			p.Options = options(lines)
		default:
			return nil, fmt.Errorf("%s --help: unknown heading %q", name, h)
		}
	}
	if p.Summary == "" || len(p.Synopsis) == 0 {
		return nil, fmt.Errorf("%s --help: no NAME or USAGE", name)
	}
	return p, nil
}

// parseUsage parses a hand-written help: a "usage: ..." line, paragraphs,
// and an "Options:" heading followed by indented option lines.
func parseUsage(name, text string) (*Page, error) {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	syn, ok := strings.CutPrefix(lines[0], "usage: ")
	if !ok {
		return nil, fmt.Errorf("%s --help: first line %q does not start with \"usage: \"", name, lines[0])
	}
	p := &Page{Name: name, Help: text, Synopsis: []string{syn}}
	rest := lines[1:]
	for i := 0; i < len(rest); i++ {
		if rest[i] != "Options:" {
			continue
		}
		j := i + 1
		for j < len(rest) && strings.HasPrefix(rest[j], " ") {
			j++
		}
		var opts []string
		for _, l := range rest[i+1 : j] {
			opts = append(opts, strings.TrimPrefix(l, "  "))
		}
		p.body(rest[:i])
		p.Options = options(opts)
		p.body(rest[j:])
		break
	}
	if p.Options == nil {
		p.body(rest)
	}
	if len(p.Description) == 0 || len(p.Description[0].lines) == 0 {
		return nil, fmt.Errorf("%s --help: no description", name)
	}
	// The NAME line is the first sentence of the description.
	first := strings.Join(p.Description[0].lines, " ") + " "
	for _, end := range []string{": ", ". "} {
		if i := strings.Index(first, end); i > 0 {
			first = first[:i]
		}
	}
	first = strings.TrimSpace(first)
	r := []rune(first)
	r[0] = unicode.ToLower(r[0])
	p.Summary = string(r)
	return p, nil
}

// body sorts the blank-separated groups of lines into the page's sections:
// paragraphs go to DESCRIPTION until one starts with "Exit status:",
// which is EXIT STATUS, and those after it go to NOTES; a group whose
// first line ends with ':' and whose other lines are indented deeper is
// an example, which goes to EXAMPLES if its heading is "Examples:".
func (p *Page) body(lines []string) {
	for _, g := range groups(lines) {
		indent := leading(g[0])
		deeper := len(g) > 1
		for _, l := range g[1:] {
			deeper = deeper && leading(l) > indent
		}
		switch {
		case deeper && strings.HasSuffix(g[0], ":"):
			b := block{kind: example, title: strings.TrimSpace(g[0])}
			for _, l := range g[1:] {
				b.lines = append(b.lines, strings.TrimRight(l[indent:], " "))
			}
			b.lines = dedent(b.lines)
			if b.title == "Examples:" {
				b.title = ""
				p.Examples = append(p.Examples, b)
			} else {
				p.add(b)
			}
		case strings.HasPrefix(strings.TrimSpace(g[0]), exitStatus):
			// Under its own heading the paragraph drops the words of it.
			lines := trimAll(g)
			lines[0] = strings.TrimSpace(strings.TrimPrefix(lines[0], exitStatus))
			p.ExitStatus = append(p.ExitStatus, block{kind: paragraph, lines: lines})
		default:
			p.add(block{kind: paragraph, lines: trimAll(g)})
		}
	}
}

const exitStatus = "Exit status:"

// add puts a block in DESCRIPTION, or in NOTES once EXIT STATUS has begun.
func (p *Page) add(b block) {
	if len(p.ExitStatus) > 0 {
		p.Notes = append(p.Notes, b)
	} else {
		p.Description = append(p.Description, b)
	}
}

// options parses option lines: a term, two spaces or more, a description;
// a line that starts with a space continues the description above.
func options(lines []string) []block {
	var bs []block
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if l[0] == ' ' && len(bs) > 0 {
			last := &bs[len(bs)-1]
			last.lines = append(last.lines, strings.TrimSpace(l))
			continue
		}
		term, desc := l, ""
		if i := strings.Index(l, "  "); i > 0 {
			term, desc = l[:i], strings.TrimSpace(l[i:])
		}
		b := block{kind: option, title: term}
		if desc != "" {
			b.lines = []string{desc}
		}
		bs = append(bs, b)
	}
	return bs
}

// Roff renders the page with the man(7) macros.
func (p *Page) Roff() string {
	var w strings.Builder
	fmt.Fprintf(&w, `.\" Code generated by internal/gen/man from %s --help. DO NOT EDIT.`+"\n", p.Name)
	fmt.Fprintf(&w, ".TH %s 1 \"\" \"sysrestrict %s\" \"User Commands\"\n", esc(strings.ToUpper(p.Name)), esc(version.Version))
	w.WriteString(".SH NAME\n")
	w.WriteString(esc(p.Name) + ` \- ` + esc(p.Summary) + "\n")
	w.WriteString(".SH SYNOPSIS\n")
	for i, s := range p.Synopsis {
		if i > 0 {
			w.WriteString(".br\n")
		}
		w.WriteString(line(words(s)) + "\n")
	}
	section(&w, "DESCRIPTION", append([]block{{kind: paragraph, lines: p.Intro}}, p.Description...))
	section(&w, "OPTIONS", p.Options)
	section(&w, "EXIT STATUS", p.ExitStatus)
	section(&w, "NOTES", p.Notes)
	section(&w, "EXAMPLES", p.Examples)
	if len(p.SeeAlso) > 0 {
		w.WriteString(".SH \"SEE ALSO\"\n")
		for i, s := range p.SeeAlso {
			name, sec, _ := strings.Cut(s, "(")
			sep := ","
			if i == len(p.SeeAlso)-1 {
				sep = ""
			}
			w.WriteString(`\fB` + esc(name) + `\fR(` + sec + sep + "\n")
		}
	}
	return w.String()
}

// section writes a .SH and its blocks, or nothing if it has none.
func section(w *strings.Builder, title string, bs []block) {
	var keep []block
	for _, b := range bs {
		if b.kind == option || len(b.lines) > 0 {
			keep = append(keep, b)
		}
	}
	if len(keep) == 0 {
		return
	}
	if strings.Contains(title, " ") {
		title = `"` + title + `"`
	}
	w.WriteString(".SH " + title + "\n")
	for i, b := range keep {
		switch b.kind {
		case paragraph:
			if i > 0 {
				w.WriteString(".PP\n")
			}
			for _, l := range b.lines {
				w.WriteString(line(esc(l)) + "\n")
			}
		case example:
			if i > 0 {
				w.WriteString(".PP\n")
			}
			if b.title != "" {
				w.WriteString(line(esc(b.title)) + "\n")
			}
			w.WriteString(".RS 4\n.nf\n")
			for _, l := range b.lines {
				w.WriteString(line(esc(l)) + "\n")
			}
			w.WriteString(".fi\n.RE\n")
		case option:
			w.WriteString(".TP\n" + line(words(b.title)) + "\n")
			for _, l := range b.lines {
				w.WriteString(line(esc(l)) + "\n")
			}
		}
	}
}

// words formats a synopsis or an option term: options in bold, the
// upper-case names of values (LIST, FILE, PROGRAM) in italics.
func words(s string) string {
	f := strings.Fields(s)
	for i, t := range f {
		core := strings.TrimRight(t, ",")
		tail := t[len(core):]
		switch {
		case strings.HasPrefix(core, "-"):
			f[i] = `\fB` + esc(core) + `\fR` + tail
		case isMetavar(core):
			f[i] = `\fI` + esc(core) + `\fR` + tail
		default:
			f[i] = esc(t)
		}
	}
	return strings.Join(f, " ")
}

// isMetavar reports whether t names a value: upper-case letters, and a
// trailing "..." (FILE..., ARG...] stays plain: it has a bracket).
func isMetavar(t string) bool {
	t = strings.TrimSuffix(t, "...")
	if t == "" {
		return false
	}
	for _, r := range t {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

// esc escapes text for roff: a backslash is \e, a hyphen-minus \-
// (which man pages need for options to be searchable and copyable).
func esc(s string) string {
	return strings.NewReplacer(`\`, `\e`, `-`, `\-`).Replace(s)
}

// line keeps a text line from being read as a request: roff takes a line
// that starts with a period or an apostrophe as one.
func line(s string) string {
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		return `\&` + s
	}
	return s
}

// groups splits lines at blank lines.
func groups(lines []string) [][]string {
	var gs [][]string
	var g []string
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			if len(g) > 0 {
				gs = append(gs, g)
			}
			g = nil
			continue
		}
		g = append(g, l)
	}
	if len(g) > 0 {
		gs = append(gs, g)
	}
	return gs
}

func leading(s string) int { return len(s) - len(strings.TrimLeft(s, " ")) }

func trimAll(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.TrimSpace(l)
	}
	return out
}

// dedent removes the indentation all lines share.
func dedent(lines []string) []string {
	n := -1
	for _, l := range lines {
		if strings.TrimSpace(l) != "" && (n < 0 || leading(l) < n) {
			n = leading(l)
		}
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		if n > 0 && len(l) >= n {
			l = l[n:]
		}
		out[i] = l
	}
	return out
}

func trimBlank(lines []string) []string {
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}
