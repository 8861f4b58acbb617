// Package svgtest reads SVG documents in waitgraph's tests.
package svgtest

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
)

// Texts decodes doc as XML, strictly, and returns the character data of
// every <text> element, in document order. An error means doc is not
// well-formed XML, or its root is not <svg>.
func Texts(doc []byte) ([]string, error) {
	d := xml.NewDecoder(bytes.NewReader(doc))
	var texts []string
	var cur *strings.Builder
	root := ""
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = t.Name.Local
			}
			if t.Name.Local == "text" {
				cur = new(strings.Builder)
			}
		case xml.CharData:
			if cur != nil {
				cur.Write(t)
			}
		case xml.EndElement:
			if t.Name.Local == "text" && cur != nil {
				texts = append(texts, cur.String())
				cur = nil
			}
		}
	}
	if root != "svg" {
		return nil, errors.New("root element is <" + root + ">, want <svg>")
	}
	return texts, nil
}
