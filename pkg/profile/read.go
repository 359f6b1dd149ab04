package profile

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// The JSON shape of a profile, of version 2 and of version 1 (which had
// syscalls at the top, each naming its executables by path). Field order
// here is the order written (write.go).
type jsonProfile struct {
	Version     *int             `json:"version"`
	Executables []jsonExecutable `json:"executables,omitempty"` // version 2
	Syscalls    []jsonSyscallV1  `json:"syscalls,omitempty"`    // version 1
	Runs        []jsonRun        `json:"runs"`
}

type jsonID struct {
	Path    *string `json:"path"`
	BuildID string  `json:"build_id,omitempty"`
	Size    int64   `json:"size,omitempty"`
}

// jsonExecutable is a jsonID with what it made; the fields are spelled
// out rather than embedded, so that a decoding error's field path
// (encoding/json's, which names an embedded struct) is the JSON's.
type jsonExecutable struct {
	Path     *string       `json:"path"`
	BuildID  string        `json:"build_id,omitempty"`
	Size     int64         `json:"size,omitempty"`
	Under    []jsonID      `json:"under"`
	Syscalls []jsonSyscall `json:"syscalls"`
}

type jsonSyscall struct {
	ABI   string `json:"abi"`
	Nr    *int   `json:"nr"`
	Name  string `json:"name"`
	Count uint64 `json:"count"`
}

type jsonSyscallV1 struct {
	ABI         string   `json:"abi"`
	Nr          *int     `json:"nr"`
	Name        string   `json:"name"`
	Count       uint64   `json:"count"`
	Executables []string `json:"executables"`
}

type jsonRun struct {
	Mode       string    `json:"mode,omitempty"` // version 2
	Argv       []string  `json:"argv"`
	Executable string    `json:"executable"`
	ABI        string    `json:"abi"`
	Time       time.Time `json:"time"`
	Status     string    `json:"status"`
}

// maxSize bounds what Read accepts: a profile holds at most a few thousand
// entries; anything far bigger is not one.
const maxSize = 64 << 20

// Read decodes a profile of version 2 or 1. It rejects unknown fields and
// checks every entry: an executable's identity (a build ID of the form
// elfnote.ReadIdentity gives, a size that is not negative), no executable
// twice, and for each syscall a known ABI, a number that is not negative,
// the name the ABI's table gives that number, no duplicates. Entries need
// not be sorted; the result is.
//
// A version 1 profile named each syscall's executables by path only: each
// becomes an executable with that path, no build ID and no size (which
// ID.Matches compares by path alone), recorded under the executable of
// every run of the profile (version 1 did not say which run saw which),
// with the syscall's count over all its executables.
func Read(r io.Reader) (*Profile, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading profile: %w", err)
	}
	if len(data) > maxSize {
		return nil, &FormatError{Offset: maxSize, Msg: fmt.Sprintf("larger than %d bytes", maxSize)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var jp jsonProfile
	if err := dec.Decode(&jp); err != nil {
		return nil, decodeError(dec, data, err)
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		end += int64(len(data[end:]) - len(bytes.TrimLeft(data[end:], " \t\r\n")))
		return nil, newFormatError(data, end, "", "data after the profile object")
	}
	if jp.Version == nil {
		return nil, &FormatError{Offset: -1, Field: "version", Msg: "missing"}
	}
	var p *Profile
	switch *jp.Version {
	case 1:
		p, err = readV1(&jp)
	case Version:
		p, err = readV2(&jp)
	default:
		return nil, fmt.Errorf("%w: %d (this sysrestrict reads versions 1 and %d)", ErrVersion, *jp.Version, Version)
	}
	if err != nil {
		return nil, err
	}
	for i, jr := range jp.Runs {
		field := func(f string) string { return "runs[" + strconv.Itoa(i) + "]." + f }
		abi := bitmap.Unknown
		if jr.ABI != "" && jr.ABI != bitmap.Unknown.String() {
			if abi, err = bitmap.ParseABI(jr.ABI); err != nil {
				return nil, &FormatError{Offset: -1, Field: field("abi"), Msg: fmt.Sprintf("unknown ABI %q", jr.ABI)}
			}
		}
		mode := jr.Mode
		switch {
		case *jp.Version == 1 && mode != "":
			return nil, &FormatError{Offset: -1, Field: field("mode"), Msg: "not in a version 1 profile"}
		case *jp.Version == 1:
			mode = ModeLearn
		case mode != ModeLearn && mode != ModeAudit:
			return nil, &FormatError{Offset: -1, Field: field("mode"), Msg: fmt.Sprintf("%q, want %q or %q", mode, ModeLearn, ModeAudit)}
		}
		p.Runs = append(p.Runs, Run{Mode: mode, Argv: jr.Argv, Executable: jr.Executable, ABI: abi, Time: jr.Time, Status: jr.Status})
	}
	return p, nil
}

func readV2(jp *jsonProfile) (*Profile, error) {
	if jp.Syscalls != nil {
		return nil, &FormatError{Offset: -1, Field: "syscalls", Msg: "a version 1 field in a version 2 profile (syscalls are listed per executable)"}
	}
	p := &Profile{}
	for i, je := range jp.Executables {
		field := "executables[" + strconv.Itoa(i) + "]"
		id, err := readID(jsonID{Path: je.Path, BuildID: je.BuildID, Size: je.Size}, field)
		if err != nil {
			return nil, err
		}
		if _, dup := slices.BinarySearchFunc(p.Executables, id, func(e Executable, id ID) int { return compareID(e.ID, id) }); dup {
			return nil, &FormatError{Offset: -1, Field: field, Msg: fmt.Sprintf("%s listed twice", id)}
		}
		e := p.executable(id)
		for j, ju := range je.Under {
			u, err := readID(ju, field+".under["+strconv.Itoa(j)+"]")
			if err != nil {
				return nil, err
			}
			if k, found := slices.BinarySearchFunc(e.Under, u, compareID); !found {
				e.Under = slices.Insert(e.Under, k, u)
			}
		}
		for j, js := range je.Syscalls {
			abi, nr, err := readSyscall(js, field+".syscalls["+strconv.Itoa(j)+"]")
			if err != nil {
				return nil, err
			}
			if _, dup := slices.BinarySearchFunc(e.Syscalls, key{abi, nr}, compareKey); dup {
				return nil, &FormatError{Offset: -1, Field: field + ".syscalls[" + strconv.Itoa(j) + "].nr", Msg: fmt.Sprintf("%s %d listed twice", abi, nr)}
			}
			e.add(abi, nr, js.Count)
		}
	}
	return p, nil
}

func readV1(jp *jsonProfile) (*Profile, error) {
	if jp.Executables != nil {
		return nil, &FormatError{Offset: -1, Field: "executables", Msg: "a version 2 field in a version 1 profile"}
	}
	var under []ID
	for _, jr := range jp.Runs {
		if jr.Executable != "" {
			under = append(under, ID{Path: jr.Executable})
		}
	}
	p := &Profile{}
	seen := map[key]bool{}
	for i, js := range jp.Syscalls {
		field := "syscalls[" + strconv.Itoa(i) + "]"
		abi, nr, err := readSyscall(jsonSyscall{ABI: js.ABI, Nr: js.Nr, Name: js.Name, Count: js.Count}, field)
		if err != nil {
			return nil, err
		}
		if seen[key{abi, nr}] {
			return nil, &FormatError{Offset: -1, Field: field + ".nr", Msg: fmt.Sprintf("%s %d listed twice", abi, nr)}
		}
		seen[key{abi, nr}] = true
		exes := slices.Clone(js.Executables)
		if len(exes) == 0 {
			exes = []string{""}
		}
		slices.Sort(exes)
		for _, path := range slices.Compact(exes) {
			for _, u := range under {
				p.Add(ID{Path: path}, u, abi, nr, 0)
			}
			p.Add(ID{Path: path}, ID{}, abi, nr, js.Count)
		}
	}
	return p, nil
}

// readID checks an executable's identity.
func readID(j jsonID, field string) (ID, error) {
	if j.Path == nil {
		return ID{}, &FormatError{Offset: -1, Field: field + ".path", Msg: "missing (\"\" for an unknown executable)"}
	}
	id := ID{Path: *j.Path, BuildID: j.BuildID, Size: j.Size}
	switch {
	case id.Size < 0:
		return ID{}, &FormatError{Offset: -1, Field: field + ".size", Msg: "negative"}
	case id.BuildID != "" && id.Size != 0:
		return ID{}, &FormatError{Offset: -1, Field: field + ".size", Msg: "given with a build ID, which identifies the file alone"}
	case id.BuildID != "" && !validBuildID(id.BuildID):
		return ID{}, &FormatError{Offset: -1, Field: field + ".build_id", Msg: fmt.Sprintf("%q is not gnu:HEX or go:ID", id.BuildID)}
	}
	return id, nil
}

// validBuildID reports whether s is a build ID as elfnote.ReadIdentity
// writes it.
func validBuildID(s string) bool {
	switch {
	case strings.HasPrefix(s, "gnu:"):
		h := s[4:]
		_, err := hex.DecodeString(h)
		return err == nil && h != "" && strings.ToLower(h) == h && len(h) <= 512
	case strings.HasPrefix(s, "go:"):
		g := s[3:]
		return g != "" && len(g) <= 256 && utf8.ValidString(g) && !strings.ContainsFunc(g, func(r rune) bool { return r < 0x20 || r == 0x7f })
	}
	return false
}

// readSyscall checks one syscall entry.
func readSyscall(js jsonSyscall, field string) (bitmap.ABI, int, error) {
	abi, err := bitmap.ParseABI(js.ABI)
	if err != nil || abi.String() != js.ABI {
		return 0, 0, &FormatError{Offset: -1, Field: field + ".abi", Msg: fmt.Sprintf("unknown ABI %q", js.ABI)}
	}
	if js.Nr == nil || *js.Nr < 0 {
		return 0, 0, &FormatError{Offset: -1, Field: field + ".nr", Msg: "missing or negative"}
	}
	nr := *js.Nr
	if want := abi.Name(nr); js.Name != want {
		return 0, 0, &FormatError{Offset: -1, Field: field + ".name",
			Msg: fmt.Sprintf("%q, but %s syscall %d is %q", js.Name, abi, nr, want)}
	}
	return abi, nr, nil
}

// ReadFile reads the profile in the named file.
func ReadFile(name string) (*Profile, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}
