package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/linkguard/linkguard"
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
