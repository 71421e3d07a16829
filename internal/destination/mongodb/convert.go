package mongodb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// maxDepth bounds the nesting of a JSON document: MongoDB refuses
// documents nested deeper than 100 levels, and the document sits one level
// down in the stored one.
const maxDepth = 90

// jsonToBSON converts a JSON object to a BSON document. Key order is kept;
// a key that repeats keeps its last value (as encoding/json does);
// integers become int32 or int64 (a double when they exceed int64), other
// numbers doubles. Keys are not interpreted: "$date" stays a field name,
// unlike in Extended JSON.
func jsonToBSON(raw []byte) (bson.D, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	doc, err := decodeObject(dec, 1)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON object")
	}
	return doc, nil
}

// decodeObject decodes the members of an object whose '{' was read.
func decodeObject(dec *json.Decoder, depth int) (bson.D, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested deeper than %d levels", maxDepth)
	}
	doc := bson.D{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("object key %v is not a string", tok)
		}
		val, err := decodeValue(dec, depth)
		if err != nil {
			return nil, err
		}
		if i := indexOf(doc, key); i >= 0 {
			doc[i].Value = val
		} else {
			doc = append(doc, bson.E{Key: key, Value: val})
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return nil, err
	}
	return doc, nil
}

// decodeArray decodes the elements of an array whose '[' was read.
func decodeArray(dec *json.Decoder, depth int) (bson.A, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested deeper than %d levels", maxDepth)
	}
	arr := bson.A{}
	for dec.More() {
		val, err := decodeValue(dec, depth)
		if err != nil {
			return nil, err
		}
		arr = append(arr, val)
	}
	if _, err := dec.Token(); err != nil { // ']'
		return nil, err
	}
	return arr, nil
}

// decodeValue decodes the next value.
func decodeValue(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			return decodeObject(dec, depth+1)
		case '[':
			return decodeArray(dec, depth+1)
		}
		return nil, fmt.Errorf("unexpected %q", rune(v))
	case json.Number:
		return number(v)
	case string, bool, nil:
		return v, nil
	}
	return nil, fmt.Errorf("unexpected JSON token %T", tok)
}

// number converts a JSON number: an integer that fits int32 or int64 stays
// an integer, anything else becomes a double.
func number(n json.Number) (any, error) {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			if i >= math.MinInt32 && i <= math.MaxInt32 {
				return int32(i), nil
			}
			return i, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("number %.40s is out of range", s)
	}
	return f, nil
}

// indexOf returns the position of key in doc, or -1. Objects are small, so
// a scan beats a map.
func indexOf(doc bson.D, key string) int {
	for i := range doc {
		if doc[i].Key == key {
			return i
		}
	}
	return -1
}

// bsonToJSON renders a stored document as JSON (relaxed Extended JSON,
// which for the values jsonToBSON produces is plain JSON).
func bsonToJSON(v bson.RawValue) (json.RawMessage, error) {
	doc, ok := v.DocumentOK()
	if !ok {
		return nil, fmt.Errorf("stored value is a %s, not a document", v.Type)
	}
	out, err := bson.MarshalExtJSON(doc, false, false)
	if err != nil {
		return nil, err
	}
	return out, nil
}
