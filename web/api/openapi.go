package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"time"
)

// The OpenAPI 3.1 document is built from the registered ops and the Go
// types they decode and encode, so it describes what the server does.

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// OpenAPI serves the document of ops.
func (h *Handler) OpenAPI(ops []*Op) http.Handler {
	var once sync.Once
	var doc []byte
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { doc, _ = json.MarshalIndent(h.openAPI(ops), "", "  ") })
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc)
	})
}

type obj = map[string]any

func (h *Handler) openAPI(ops []*Op) obj {
	sg := &schemaGen{defs: obj{}}
	// Request bodies get their own schemas: nothing in them is "required"
	// by the response's rules (PATCH bodies are partial; creation rules are
	// the service's, answered as problems naming the field).
	rg := &schemaGen{defs: sg.defs, request: true}
	paths := obj{}
	for _, o := range ops {
		item, _ := paths[o.Path].(obj)
		if item == nil {
			item = obj{}
			paths[o.Path] = item
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(o.Path, -1) {
			params = append(params, obj{"name": m[1], "in": "path", "required": true, "schema": obj{"type": "string"},
				"description": map[string]string{"tenant": "the tenant's slug"}[m[1]]})
		}
		for _, q := range o.Params {
			schema := obj{"type": "string"}
			if vals := o.Enums[q]; len(vals) > 0 {
				schema["enum"] = vals
			}
			params = append(params, obj{"name": q, "in": "query", "schema": schema})
		}
		if o.Method == "GET" && strings.Contains(sg.name(reflect.TypeOf(o.Out)), "page") {
			params = append(params,
				obj{"name": "limit", "in": "query", "schema": obj{"type": "integer", "minimum": 1, "maximum": 500, "default": 50}},
				obj{"name": "after", "in": "query", "description": "cursor: the next value of the previous page", "schema": obj{"type": "string"}})
		}
		responses := obj{
			"default": obj{"description": "an error, as RFC 9457 problem details", "content": obj{"application/problem+json": obj{"schema": sg.ref(reflect.TypeOf(Problem{}))}}},
		}
		success := obj{"description": http.StatusText(o.Status)}
		if o.Out != nil && o.Status != http.StatusNoContent {
			success["content"] = obj{"application/json": obj{"schema": sg.ref(reflect.TypeOf(o.Out))}}
		}
		if len(o.Produces) > 0 {
			content := obj{}
			for _, ct := range o.Produces {
				content[ct] = obj{"schema": obj{"type": "string", "contentMediaType": ct}}
			}
			success["content"] = content
		}
		responses[itoa3(o.Status)] = success
		for status, out := range o.Also {
			responses[itoa3(status)] = obj{"description": http.StatusText(status), "content": obj{"application/json": obj{"schema": sg.ref(reflect.TypeOf(out))}}}
		}
		operation := obj{
			"operationId": operationID(o),
			"summary":     o.Summary,
			"responses":   responses,
		}
		if len(params) > 0 {
			operation["parameters"] = params
		}
		if o.In != nil {
			ref := rg.ref(reflect.TypeOf(o.In))
			n, _ := ref["$ref"].(string)
			if s, ok := rg.defs[strings.TrimPrefix(n, "#/components/schemas/")].(obj); ok {
				for _, f := range o.ReadOnly {
					delete(s["properties"].(obj), f)
				}
			}
			operation["requestBody"] = obj{"required": !o.OptionalBody, "content": obj{"application/json": obj{"schema": ref}}}
		}
		if len(o.Accepts) > 0 {
			content := obj{}
			for _, ct := range o.Accepts {
				schema := obj{"type": "string", "contentMediaType": ct}
				if ct == "multipart/form-data" {
					schema = obj{"type": "object", "required": []string{"file"}, "properties": obj{"file": obj{"type": "string", "contentMediaType": "application/octet-stream"}}}
				}
				content[ct] = obj{"schema": schema}
			}
			operation["requestBody"] = obj{"required": true, "content": content}
		}
		switch o.Access {
		case Public:
			operation["security"] = []any{}
		case OperatorOnly:
			operation["description"] = "Needs an operator token."
		default:
			if o.MinRole != "" {
				operation["description"] = "Needs a token with at least the role " + o.MinRole + " (operators may do everything)."
			}
		}
		item[strings.ToLower(o.Method)] = operation
	}
	return obj{
		"openapi": "3.1.0",
		"info": obj{"title": "usher admin API", "version": h.version,
			"description": "Tenant-scoped administration of usher's directory. Errors are RFC 9457 problem details with a stable code and the field that is wrong."},
		"servers":    []any{obj{"url": "/"}},
		"paths":      paths,
		"security":   []any{obj{"bearer": []any{}}},
		"components": obj{"schemas": sg.defs, "securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer"}}},
	}
}

func itoa3(n int) string {
	return string([]byte{byte('0' + n/100), byte('0' + n/10%10), byte('0' + n%10)})
}

func operationID(o *Op) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(o.Method))
	for _, part := range strings.Split(strings.TrimPrefix(o.Path, "/api/v1/"), "/") {
		part = strings.Trim(part, "{}")
		part = strings.NewReplacer("-", " ", "_", " ", ".", " ").Replace(part) // "qr.png" is QrPng
		for _, w := range strings.Fields(part) {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}

// schemaGen turns Go types into JSON Schema (2020-12, as OpenAPI 3.1 uses).
type schemaGen struct {
	defs    obj
	request bool
}

var timeType = reflect.TypeOf(time.Time{})

var apiPkg = reflect.TypeOf(Op{}).PkgPath()

func (g *schemaGen) name(t reflect.Type) string {
	if t == nil {
		return ""
	}
	n := t.Name()
	if t.PkgPath() == apiPkg {
		// The API's own wire types kept their names from before they were
		// exported: "page_Tenant", "problem".
		n = strings.ToLower(n[:1]) + n[1:]
	}
	n = strings.NewReplacer("[", "_", "]", "", "github.com/usherhq/usher.", "", "github.com/usherhq/usher/provision.", "", "github.com/usherhq/usher/openid.", "", "github.com/usherhq/usher/openid/keys.", "", "github.com/usherhq/usher/openid/clients.", "", "github.com/usherhq/usher/openid/backchannel.", "", "github.com/usherhq/usher/web/api.", "", "github.com/usherhq/usher/store.", "", "github.com/usherhq/usher/imports.", "", "*", "").Replace(n)
	return n
}

func (g *schemaGen) ref(t reflect.Type) obj {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == timeType {
		return g.schema(t)
	}
	n := g.name(t)
	if g.request {
		n += "Request"
	}
	if _, ok := g.defs[n]; !ok {
		g.defs[n] = obj{} // placeholder against recursion
		g.defs[n] = g.structSchema(t)
	}
	return obj{"$ref": "#/components/schemas/" + n}
}

func (g *schemaGen) schema(t reflect.Type) obj {
	switch {
	case t == timeType:
		return obj{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.Pointer:
		return g.schema(t.Elem())
	}
	switch t.Kind() {
	case reflect.String:
		return obj{"type": "string"}
	case reflect.Bool:
		return obj{"type": "boolean"}
	case reflect.Int, reflect.Int64, reflect.Int32:
		return obj{"type": "integer"}
	case reflect.Float64:
		return obj{"type": "number"}
	case reflect.Slice:
		return obj{"type": "array", "items": g.ref(t.Elem())}
	case reflect.Map:
		return obj{"type": "object", "additionalProperties": g.ref(t.Elem())}
	case reflect.Struct:
		return g.ref(t)
	}
	return obj{}
}

func (g *schemaGen) structSchema(t reflect.Type) obj {
	props := obj{}
	var required []string
	g.fields(t, props, &required)
	s := obj{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func (g *schemaGen) fields(t reflect.Type, props obj, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		if f.Anonymous && tag == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			g.fields(ft, props, required)
			continue
		}
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		props[name] = g.schema(f.Type)
		if !g.request && !strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer {
			*required = append(*required, name)
		}
	}
}
