package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// decodeError turns an error of encoding/json decoding data into a
// *FormatError with the offset where the problem is:
//
//   - the input ends early (a profile cut short by a full disk or a
//     killed copy): encoding/json's Decoder reads a whole value before it
//     decodes it, so its InputOffset is still 0 there; the problem is
//     where the input ends, len(data);
//   - a field the format does not have: the Decoder says only its name,
//     at the end of the whole object; the offset is that of its key, found
//     by a walk over the tokens (unknownField), and Field its path.
//
// Syntax errors carry the offset of the bad byte (plus one), type errors
// the offset after the value.
func decodeError(dec *json.Decoder, data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		// Offset counts the bytes read, the bad one included.
		return newFormatError(data, max(syn.Offset-1, 0), "", syn.Error())
	case errors.As(err, &typ):
		return newFormatError(data, typ.Offset, typ.Field, "got "+typ.Value+", want "+jsonKind(typ.Type))
	case errors.Is(err, io.EOF) && len(bytes.TrimSpace(data)) == 0:
		return newFormatError(data, int64(len(data)), "", "empty: no profile object")
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return newFormatError(data, int64(len(data)), "", "unexpected end of input: the profile stops in the middle (the file is cut short)")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		if off, field, ok := unknownField(data, typeOfProfile); ok {
			return newFormatError(data, off, field, "unknown field")
		}
	}
	return newFormatError(data, dec.InputOffset(), "", err.Error())
}

// newFormatError is a FormatError at offset off of data, with its line
// and column.
func newFormatError(data []byte, off int64, field, msg string) *FormatError {
	e := &FormatError{Offset: off, Field: field, Msg: msg}
	if off >= 0 && off <= int64(len(data)) {
		before := data[:off]
		e.Line = 1 + bytes.Count(before, []byte("\n"))
		e.Column = 1 + len(before) - (bytes.LastIndexByte(before, '\n') + 1)
	}
	return e
}

// unknownField walks the JSON tokens of data as a value of type t and
// returns the offset of the first object key that t has no field for
// (matched as encoding/json matches them: by the json tag, case
// insensitively), with its path ("syscalls[3].bogus"). The walk follows
// the types themselves, so it knows whatever fields the format has.
func unknownField(data []byte, t reflect.Type) (int64, string, bool) {
	w := &walker{dec: json.NewDecoder(bytes.NewReader(data)), data: data}
	if err := w.value(t, ""); err != errFound {
		return 0, "", false
	}
	return w.off, w.path, true
}

var errFound = errors.New("found")

var typeOfProfile = reflect.TypeFor[jsonProfile]()

type walker struct {
	dec  *json.Decoder
	data []byte
	off  int64
	path string
}

var unmarshaler = reflect.TypeFor[json.Unmarshaler]()

// value walks one value of type t at path; it returns errFound once the
// unknown key is found, another error if the input ends or is malformed.
func (w *walker) value(t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	opaque := reflect.PointerTo(t).Implements(unmarshaler) // time.Time: a string, not an object
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	switch {
	case !ok:
		return nil // a scalar
	case d == '{' && t.Kind() == reflect.Struct && !opaque:
		return w.object(t, path)
	case d == '[' && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && !opaque:
		for i := 0; w.dec.More(); i++ {
			if err := w.value(t.Elem(), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		_, err := w.dec.Token()
		return err
	}
	return w.skip(1)
}

// object walks the members of an object of struct type t, its '{' read.
func (w *walker) object(t reflect.Type, path string) error {
	for w.dec.More() {
		start := w.dec.InputOffset()
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		f, ok := fieldOf(t, key)
		if !ok {
			// The key starts at its quote, after any blank and comma.
			w.off = start + int64(bytes.IndexByte(w.data[start:], '"'))
			w.path = strings.TrimPrefix(path+"."+key, ".")
			return errFound
		}
		if err := w.value(f.Type, strings.TrimPrefix(path+"."+key, ".")); err != nil {
			return err
		}
	}
	_, err := w.dec.Token()
	return err
}

// skip reads tokens until depth open arrays and objects are closed.
func (w *walker) skip(depth int) error {
	for depth > 0 {
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

// fieldOf returns the field of struct type t that the JSON key names.
func fieldOf(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if strings.EqualFold(name, key) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// jsonKind says what JSON value decodes into t.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeFor[time.Time]():
		return "a time (an RFC 3339 string)"
	case t.Kind() == reflect.Struct:
		return "an object"
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		return "an array"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "an integer"
	case t.Kind() >= reflect.Uint && t.Kind() <= reflect.Uintptr:
		return "an integer, 0 or more"
	}
	return "a number"
}
