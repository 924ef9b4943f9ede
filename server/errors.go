package server

import (
	"encoding/json"
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/linkguard/linkguard"
)

// statusOf is the one mapping from error kinds to HTTP statuses.
var statusOf = map[linkguard.Kind]int{
	linkguard.KindInvalid:      fiber.StatusBadRequest,
	linkguard.KindNotFound:     fiber.StatusNotFound,
	linkguard.KindConflict:     fiber.StatusConflict,
	linkguard.KindUnauthorized: fiber.StatusUnauthorized,
	linkguard.KindRateLimited:  fiber.StatusTooManyRequests,
	linkguard.KindTooLarge:     fiber.StatusRequestEntityTooLarge,
	linkguard.KindInternal:     fiber.StatusInternalServerError,
	linkguard.KindUnavailable:  fiber.StatusServiceUnavailable,
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    linkguard.ErrorCode `json:"code"`
	Message string              `json:"message"`
	// Extra are more members (attempts_left, state), beside code and message.
	Extra map[string]any `json:"-"`
}

// MarshalJSON writes code, message and the extra members in one object.
func (d errorDetail) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(d.Extra)+2)
	for k, v := range d.Extra {
		m[k] = v
	}
	m["code"], m["message"] = d.Code, d.Message
	return json.Marshal(m)
}

// errorHandler renders every error as docs/api.md's error body. An error
// without a kind is ours: it is logged once, in full, and the client sees
// only "internal error".
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	var le *linkguard.Error
	var fe *fiber.Error
	switch {
	case errors.As(err, &le):
	case errors.As(err, &fe):
		le = fiberError(fe)
	default:
		s.log.Error("request failed", "method", c.Method(), "route", c.Route().Path, "err", err)
		le = &linkguard.Error{Kind: linkguard.KindInternal, Code: linkguard.CodeInternal, Message: "internal error: the request was not completed; try again later"}
	}
	status := statusOf[le.Kind]
	if fe != nil && fe.Code < 500 {
		status = fe.Code // keep 404, 405, 413, 415 as Fiber found them
	}
	if status == 0 {
		status = fiber.StatusInternalServerError
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(status).JSON(errorBody{errorDetail{Code: le.Code, Message: le.Message, Extra: le.Extra}})
}

func fiberError(fe *fiber.Error) *linkguard.Error {
	switch fe.Code {
	case fiber.StatusRequestEntityTooLarge:
		return linkguard.Errorf(linkguard.KindTooLarge, linkguard.CodeBodyTooLarge, "the request body is larger than %d KiB", MaxBody>>10)
	case fiber.StatusNotFound:
		return linkguard.Errorf(linkguard.KindNotFound, linkguard.CodeNotFound, "no such route: check the method and path against the API documentation")
	case fiber.StatusMethodNotAllowed:
		return &linkguard.Error{Kind: linkguard.KindInvalid, Code: linkguard.CodeMethodNotAllowed, Message: "this method is not allowed on this route"}
	case fiber.StatusUnsupportedMediaType:
		return &linkguard.Error{Kind: linkguard.KindInvalid, Code: linkguard.CodeUnsupportedMediaType, Message: fe.Message}
	}
	if fe.Code >= 500 {
		return &linkguard.Error{Kind: linkguard.KindInternal, Code: linkguard.CodeInternal, Message: "internal error: try again later"}
	}
	return &linkguard.Error{Kind: linkguard.KindInvalid, Code: linkguard.CodeBadRequest, Message: fe.Message}
}
