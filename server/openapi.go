package server

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/gofiber/fiber/v2"
	"gopkg.in/yaml.v3"
)

// openAPIYAML is the OpenAPI 3.1 document of /v1, written in YAML for
// people; the server serves it as JSON at GET /v1/openapi.json.
//
//go:embed openapi/openapi.yaml
var openAPIYAML []byte

var openAPIDoc = sync.OnceValues(func() ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		return nil, fmt.Errorf("server/openapi/openapi.yaml: %w", err)
	}
	return json.Marshal(doc)
})

// OpenAPI returns the OpenAPI 3.1 document of /v1, as JSON.
func OpenAPI() ([]byte, error) { return openAPIDoc() }

// openAPI answers GET /v1/openapi.json; no API key is needed.
func (s *Server) openAPI(c *fiber.Ctx) error {
	doc, err := openAPIDoc()
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	c.Set(fiber.HeaderAccessControlAllowOrigin, "*")
	return c.Send(doc)
}
