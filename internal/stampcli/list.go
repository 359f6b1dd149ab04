package stampcli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// listSyscalls prints the syscall table of abi: number and name, one a line.
func listSyscalls(w io.Writer, abi bitmap.ABI, asJSON bool) error {
	table := abi.Syscalls()
	if asJSON {
		type entry struct {
			Name string `json:"name"`
			Nr   int    `json:"nr"`
		}
		out := struct {
			ABI      string  `json:"abi"`
			Syscalls []entry `json:"syscalls"`
		}{ABI: abi.String()}
		for _, sc := range table {
			out.Syscalls = append(out.Syscalls, entry{sc.Name, sc.Nr})
		}
		return json.NewEncoder(w).Encode(out)
	}
	bw := bufio.NewWriter(w)
	for _, sc := range table {
		fmt.Fprintf(bw, "%6d %s", sc.Nr, sc.Name)
		if sc.Nr >= bitmap.Size {
			bw.WriteString("  (past the bitmap: only an allowlist restricts it)")
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// listGroups prints every group with its description and members; with an
// ABI, the members as resolved for it.
func listGroups(w io.Writer, abi bitmap.ABI, resolve, asJSON bool) error {
	type group struct {
		Name        string   `json:"name"`
		Description string   `json:"description"`
		Source      string   `json:"source"`
		Members     []string `json:"members"`
		Resolved    []int    `json:"resolved,omitempty"`
	}
	var groups []group
	for _, g := range bitmap.Groups() {
		src := "systemd"
		if g.Source == bitmap.SourceSysrestrict {
			src = "sysrestrict"
		}
		gr := group{Name: g.Name, Description: g.Description, Source: src, Members: g.Members}
		if resolve {
			nrs, err := g.Resolve(abi)
			if err != nil {
				return err
			}
			gr.Resolved = nrs
		}
		groups = append(groups, gr)
	}
	if asJSON {
		return json.NewEncoder(w).Encode(groups)
	}
	for _, g := range groups {
		fmt.Fprintf(w, "%s  (%s) %s\n", g.Name, g.Source, g.Description)
		members := g.Members
		if resolve {
			members = nil
			for _, nr := range g.Resolved {
				members = append(members, fmt.Sprintf("%s=%d", abi.Name(nr), nr))
			}
		}
		fmt.Fprintf(w, "    %s\n\n", wrap(members, 76))
	}
	return nil
}

// wrap joins words with spaces into lines of at most width columns,
// indented to match the first.
func wrap(words []string, width int) string {
	var b strings.Builder
	col := 0
	for _, word := range words {
		if col > 0 && col+1+len(word) > width {
			b.WriteString("\n    ")
			col = 0
		} else if col > 0 {
			b.WriteByte(' ')
			col++
		}
		b.WriteString(word)
		col += len(word)
	}
	return b.String()
}
