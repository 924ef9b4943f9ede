package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/linkguard/linkguard"
	"github.com/linkguard/linkguard/fingerprint"
	"github.com/linkguard/linkguard/fingerprint/report"
)

// decodeJSON decodes the body into v strictly: JSON media type, UTF-8,
// no unknown fields, one value, no trailing data. Errors say what and where.
func decodeJSON(c *fiber.Ctx, v any) error {
	ct := strings.ToLower(strings.TrimSpace(strings.SplitN(c.Get(fiber.HeaderContentType), ";", 2)[0]))
	if ct != fiber.MIMEApplicationJSON {
		return fiber.NewError(fiber.StatusUnsupportedMediaType, "the body must be application/json")
	}
	return decodeStrict(c.Body(), v)
}

func decodeStrict(body []byte, v any) error {
	bad := func(format string, a ...any) error {
		return linkguard.Errorf(linkguard.KindInvalid, linkguard.CodeInvalidJSON, format, a...)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return bad("the request body is empty: send a JSON object")
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return linkguard.Errorf(linkguard.KindInvalid, linkguard.CodeUnknownField, "%s in the request body", strings.TrimPrefix(err.Error(), "json: "))
		case errors.As(err, &se):
			return bad("the body is not valid JSON (at byte %d): %v", se.Offset, se)
		case errors.As(err, &te):
			return bad("field %q must be %s, not %s", te.Field, kindName(te.Type.Kind().String()), te.Value)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return bad("the body ends in the middle of a JSON value")
		}
		return bad("the body could not be read as JSON: %v", err)
	}
	if _, err := d.Token(); err != io.EOF {
		return bad("the body has data after the JSON object")
	}
	return nil
}

func kindName(k string) string {
	switch k {
	case "int", "int64", "uint32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "struct", "map", "ptr":
		return "an object"
	case "slice":
		return "an array"
	}
	return fmt.Sprintf("of type %s", k)
}

// What a report may carry once it has passed the edge. The collector cuts
// to report.Max*; a report past them was not written by it. A value a
// little over is cut (strings at a UTF-8 boundary, lists to their first
// entries), so a browser with an odd value still gets its
// decision; a value far over (absurdFactor times the limit) is refused
// with a 400 that names the field, since no browser sends that.
const (
	maxReportString = report.MaxString
	// maxReportList bounds a list the report type does not name below.
	maxReportList = 16
	absurdFactor  = 8
)

// reportListMax is the bound of each named list of a report, by its JSON
// name; any other list gets maxReportList.
var reportListMax = map[string]int{
	"errors": report.MaxErrors, "languages": report.MaxLanguages,
	"brands": report.MaxBrands, "ua_marks": report.MaxUAMarks,
}

// boundReport cuts every string and list of r to its bound, walking every
// field (so a field added to the report later is bounded too), and
// returns an invalid error naming the first field that is absurdly large.
func boundReport(r *fingerprint.Report) error {
	return boundValue(reflect.ValueOf(r).Elem(), "signals")
}

func boundValue(v reflect.Value, path string) error {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			return boundValue(v.Elem(), path)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < v.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if err := boundValue(v.Field(i), path+"."+name); err != nil {
				return err
			}
		}
	case reflect.String:
		s := v.String()
		if len(s) > absurdFactor*maxReportString {
			return linkguard.Errorf(linkguard.KindInvalid, linkguard.CodeInvalidRequest,
				"%s is %d bytes; a report's strings are cut to %d bytes and over %d refused", path, len(s), maxReportString, absurdFactor*maxReportString)
		}
		if len(s) > maxReportString {
			v.SetString(report.Clip(s))
		}
	case reflect.Slice:
		name := path[strings.LastIndexByte(path, '.')+1:]
		max, ok := reportListMax[name]
		if !ok {
			max = maxReportList
		}
		if v.Len() > absurdFactor*max {
			return linkguard.Errorf(linkguard.KindInvalid, linkguard.CodeInvalidRequest,
				"%s has %d entries; at most %d are kept and over %d refused", path, v.Len(), max, absurdFactor*max)
		}
		if v.Len() > max {
			v.Set(v.Slice(0, max))
		}
		for i := 0; i < v.Len(); i++ {
			if err := boundValue(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		// No report field is a map today; refuse one rather than store it
		// unbounded if one is added without thought.
		if v.Len() > maxReportList {
			return linkguard.Errorf(linkguard.KindInvalid, linkguard.CodeInvalidRequest,
				"%s has %d entries; at most %d are allowed", path, v.Len(), maxReportList)
		}
	}
	return nil
}
