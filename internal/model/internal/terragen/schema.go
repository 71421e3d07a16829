package main

import (
	"fmt"
	"math"

	"github.com/goccy/go-yaml"
)

// node is the subset of a JSON Schema that the generator understands.
type node struct {
	Ref         string
	Types       []string
	Const       any
	HasConst    bool
	Enum        []any
	Title       string
	Description string
	Properties  []property
	Required    []string
	Items       *node
	PrefixItems []*node
	AnyOf       []*node
	OneOf       []*node
	AllOf       []*node
	Defs        map[string]*node
	// Extra is additionalProperties or unevaluatedProperties when it is a
	// schema: the value type of a map-like object.
	Extra *node
}

// property is one entry of an object schema's properties, in file order.
type property struct {
	Name   string
	Schema *node
}

// parseSchema decodes one YAML schema file, keeping property order.
func parseSchema(data []byte) (*node, error) {
	var v any
	if err := yaml.UnmarshalWithOptions(data, &v, yaml.UseOrderedMap()); err != nil {
		return nil, fmt.Errorf("decode yaml: %w", err)
	}
	return toNode(v)
}

// toNode converts a decoded YAML value into a node.
func toNode(v any) (*node, error) {
	m, ok := v.(yaml.MapSlice)
	if !ok {
		return nil, fmt.Errorf("schema is %T, want a mapping", v)
	}
	n := &node{}
	for _, item := range m {
		key, ok := item.Key.(string)
		if !ok {
			return nil, fmt.Errorf("schema key %v is %T, want a string", item.Key, item.Key)
		}
		var err error
		switch key {
		case "$ref":
			n.Ref, err = asString(key, item.Value)
		case "type":
			n.Types, err = asStrings(key, item.Value)
		case "const":
			n.Const, n.HasConst = item.Value, true
		case "enum":
			list, ok := item.Value.([]any)
			if !ok {
				return nil, fmt.Errorf("enum is %T, want a list", item.Value)
			}
			n.Enum = list
		case "title":
			n.Title, err = asString(key, item.Value)
		case "description":
			n.Description, err = asString(key, item.Value)
		case "required":
			n.Required, err = asStrings(key, item.Value)
		case "items":
			n.Items, err = toNode(item.Value)
		case "prefixItems":
			n.PrefixItems, err = toNodes(key, item.Value)
		case "anyOf":
			n.AnyOf, err = toNodes(key, item.Value)
		case "oneOf":
			n.OneOf, err = toNodes(key, item.Value)
		case "allOf":
			n.AllOf, err = toNodes(key, item.Value)
		case "additionalProperties", "unevaluatedProperties":
			if _, isMap := item.Value.(yaml.MapSlice); isMap {
				n.Extra, err = toNode(item.Value)
			}
		case "properties":
			n.Properties, err = toProperties(item.Value)
		case "$defs":
			n.Defs, err = toDefs(item.Value)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	return n, nil
}

func toNodes(key string, v any) ([]*node, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s is %T, want a list", key, v)
	}
	out := make([]*node, 0, len(list))
	for i, item := range list {
		n, err := toNode(item)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", key, i, err)
		}
		out = append(out, n)
	}
	return out, nil
}

func toProperties(v any) ([]property, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(yaml.MapSlice)
	if !ok {
		return nil, fmt.Errorf("properties is %T, want a mapping", v)
	}
	out := make([]property, 0, len(m))
	for _, item := range m {
		name, ok := item.Key.(string)
		if !ok {
			return nil, fmt.Errorf("property name %v is %T, want a string", item.Key, item.Key)
		}
		n, err := toNode(item.Value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, property{Name: name, Schema: n})
	}
	return out, nil
}

func toDefs(v any) (map[string]*node, error) {
	m, ok := v.(yaml.MapSlice)
	if !ok {
		return nil, fmt.Errorf("$defs is %T, want a mapping", v)
	}
	out := make(map[string]*node, len(m))
	for _, item := range m {
		name, ok := item.Key.(string)
		if !ok {
			return nil, fmt.Errorf("def name %v is %T, want a string", item.Key, item.Key)
		}
		n, err := toNode(item.Value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = n
	}
	return out, nil
}

func asString(key string, v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s is %T, want a string", key, v)
	}
	return s, nil
}

func asStrings(key string, v any) ([]string, error) {
	switch v := v.(type) {
	case string:
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, item := range v {
			s, ok := item.(string)
			if !ok {
				return nil, fmt.Errorf("%s item is %T, want a string", key, item)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s is %T, want a string or a list", key, v)
}

// isNull reports whether n is exactly {type: "null"}.
func (n *node) isNull() bool {
	return len(n.Types) == 1 && n.Types[0] == "null" && n.Ref == "" && !n.HasConst &&
		len(n.AnyOf) == 0 && len(n.OneOf) == 0
}

// stripNull returns the non-null part of a nullable schema and whether n
// allowed null. A schema that is not a simple "X or null" is returned as is.
func (n *node) stripNull() (*node, bool) {
	alts := n.AnyOf
	if len(alts) == 0 {
		alts = n.OneOf
	}
	if len(alts) == 2 && n.Ref == "" && len(n.Types) == 0 {
		switch {
		case alts[1].isNull():
			return alts[0], true
		case alts[0].isNull():
			return alts[1], true
		}
	}
	if len(n.Types) == 2 {
		switch {
		case n.Types[1] == "null":
			c := *n
			c.Types = n.Types[:1]
			return &c, true
		case n.Types[0] == "null":
			c := *n
			c.Types = n.Types[1:]
			return &c, true
		}
	}
	return n, false
}

// enumValue is one member of an enum schema.
type enumValue struct {
	Value       any // int64 or string
	Title       string
	Description string
}

// enumValues returns the members of n when n is an enum of integer or
// string constants (a oneOf/anyOf of consts, or an enum list), with
// isString telling which. ok is false for any other schema.
func (n *node) enumValues() (values []enumValue, isString, ok bool) {
	alts := n.OneOf
	if len(alts) == 0 {
		alts = n.AnyOf
	}
	if len(alts) > 0 {
		for _, a := range alts {
			if !a.HasConst {
				return nil, false, false
			}
			values = append(values, enumValue{Value: a.Const, Title: a.Title, Description: a.Description})
		}
	} else {
		for _, v := range n.Enum {
			values = append(values, enumValue{Value: v})
		}
	}
	if len(values) == 0 {
		return nil, false, false
	}
	strs, ints := 0, 0
	for i, v := range values {
		switch c := v.Value.(type) {
		case string:
			strs++
		default:
			iv, isInt := toInt(c)
			if !isInt {
				return nil, false, false
			}
			values[i].Value = iv
			ints++
		}
	}
	switch {
	case strs == len(values):
		return values, true, true
	case ints == len(values):
		return values, false, true
	}
	return nil, false, false
}

// toInt converts a decoded YAML number to int64 when it is integral.
func toInt(v any) (int64, bool) {
	switch v := v.(type) {
	case int:
		return int64(v), true
	case int64:
		return v, true
	case uint64:
		if v > math.MaxInt64 {
			return 0, false
		}
		return int64(v), true
	case float64:
		if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
			return 0, false
		}
		return int64(v), true
	}
	return 0, false
}
