package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/sysrestrict/sysrestrict/pkg/bitmap"
)

// The JSON shape of a profile. Field order here is the order written.
type jsonProfile struct {
	Version  *int          `json:"version"`
	Syscalls []jsonSyscall `json:"syscalls"`
	Runs     []jsonRun     `json:"runs"`
}

type jsonSyscall struct {
	ABI         string   `json:"abi"`
	Nr          *int     `json:"nr"`
	Name        string   `json:"name"`
	Count       uint64   `json:"count"`
	Executables []string `json:"executables"`
}

type jsonRun struct {
	Argv       []string  `json:"argv"`
	Executable string    `json:"executable"`
	ABI        string    `json:"abi"`
	Time       time.Time `json:"time"`
	Status     string    `json:"status"`
}

// maxSize bounds what Read accepts: a profile holds at most a few thousand
// entries; anything far bigger is not one.
const maxSize = 64 << 20

// Read decodes a profile. It accepts only version 1, rejects unknown fields,
// and checks every entry: a known ABI, a number that is not negative, the
// name the ABI's table gives that number, no duplicates. Entries need not be
// sorted; the result is.
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
	if *jp.Version != Version {
		return nil, fmt.Errorf("%w: %d (this sysrestrict reads version %d)", ErrVersion, *jp.Version, Version)
	}
	p := &Profile{}
	for i, js := range jp.Syscalls {
		field := func(f string) string { return "syscalls[" + strconv.Itoa(i) + "]." + f }
		abi, err := bitmap.ParseABI(js.ABI)
		if err != nil || abi.String() != js.ABI {
			return nil, &FormatError{Offset: -1, Field: field("abi"), Msg: fmt.Sprintf("unknown ABI %q", js.ABI)}
		}
		if js.Nr == nil || *js.Nr < 0 {
			return nil, &FormatError{Offset: -1, Field: field("nr"), Msg: "missing or negative"}
		}
		nr := *js.Nr
		if want := abi.Name(nr); js.Name != want {
			return nil, &FormatError{Offset: -1, Field: field("name"),
				Msg: fmt.Sprintf("%q, but %s syscall %d is %q", js.Name, abi, nr, want)}
		}
		if _, dup := slices.BinarySearchFunc(p.Syscalls, key{abi, nr}, compareKey); dup {
			return nil, &FormatError{Offset: -1, Field: field("nr"), Msg: fmt.Sprintf("%s %d listed twice", abi, nr)}
		}
		p.Add(abi, nr, "", js.Count)
		j, _ := slices.BinarySearchFunc(p.Syscalls, key{abi, nr}, compareKey)
		if len(js.Executables) > 0 {
			exes := slices.Clone(js.Executables)
			slices.Sort(exes)
			p.Syscalls[j].Executables = slices.Compact(exes)
		}
	}
	for i, jr := range jp.Runs {
		abi := bitmap.Unknown
		if jr.ABI != "" && jr.ABI != bitmap.Unknown.String() {
			if abi, err = bitmap.ParseABI(jr.ABI); err != nil {
				return nil, &FormatError{Offset: -1, Field: "runs[" + strconv.Itoa(i) + "].abi", Msg: fmt.Sprintf("unknown ABI %q", jr.ABI)}
			}
		}
		p.Runs = append(p.Runs, Run{Argv: jr.Argv, Executable: jr.Executable, ABI: abi, Time: jr.Time, Status: jr.Status})
	}
	return p, nil
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
