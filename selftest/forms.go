package selftest

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// form is one <form> as a crawler without JavaScript sees it.
type form struct {
	method string // GET or POST
	action string
	values url.Values
}

// maxForms bounds what a page can make the crawler post.
const maxForms = 16

// parseForms reads every form of a page, those inside <noscript> and
// <template> included (a crawler reads the markup, not the rendering),
// with the values their fields carry.
func parseForms(page []byte) []form {
	doc, err := html.ParseWithOptions(bytes.NewReader(page), html.ParseOptionEnableScripting(false))
	if err != nil {
		return nil
	}
	var out []form
	var walk func(n *html.Node, f *form)
	walk = func(n *html.Node, f *form) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "form":
				if len(out) < maxForms {
					nf := form{method: http.MethodGet, action: attr(n, "action"), values: url.Values{}}
					if strings.EqualFold(attr(n, "method"), "post") {
						nf.method = http.MethodPost
					}
					for c := n.FirstChild; c != nil; c = c.NextSibling {
						walk(c, &nf)
					}
					out = append(out, nf)
				}
				return
			case "input", "button", "textarea", "select":
				if name := attr(n, "name"); f != nil && name != "" {
					t := strings.ToLower(attr(n, "type"))
					if t != "checkbox" && t != "radio" || hasAttr(n, "checked") {
						f.values.Add(name, attr(n, "value"))
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, f)
		}
	}
	walk(doc, nil)
	return out
}

// metaNonce is the content of <meta name="lg-nonce">.
func metaNonce(page []byte) string {
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		return ""
	}
	var find func(n *html.Node) string
	find = func(n *html.Node) string {
		if n.Type == html.ElementNode && n.Data == "meta" && attr(n, "name") == "lg-nonce" {
			return attr(n, "content")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if v := find(c); v != "" {
				return v
			}
		}
		return ""
	}
	return find(doc)
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}
