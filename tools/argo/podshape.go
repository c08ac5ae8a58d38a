// Writes the shape of Go's encoding/json for k8s.io/api's corev1.PodTemplateSpec, as a JSON table, to stdout:
// every struct type reachable from PodTemplateSpec with its fields in the order encoding/json writes them (embedded
// structs flattened by encoding/json's own rules), each field's JSON name, omitempty and type. rollouts/core/gojson.py
// encodes a pod template with it exactly as Argo Rollouts' ComputePodTemplateHash marshals it (rollouts/core/go_shapes/
// podtemplatespec.json). Run it inside the Argo Rollouts v1.10.1 module so that its pinned k8s.io/api applies:
//
//	make argo-shapes
//
// (which does: mkdir -p <argo>/hack/podshape && cp tools/argo/podshape.go <argo>/hack/podshape/main.go &&
//
//	(cd <argo> && go run ./hack/podshape) > rollouts/core/go_shapes/podtemplatespec.json)
//
// Type grammar in the table: "string", "bool", "int", "uint", "float32", "float64", "bytes" ([]byte, base64),
// "*T" (pointer), "[]T" (slice), "map[K]T" (K is a string kind), a struct's name (a key of "structs"), or one of the
// types with their own MarshalJSON: "quantity" (resource.Quantity), "time" (metav1.Time), "microtime"
// (metav1.MicroTime), "intorstring" (intstr.IntOrString), "fieldsv1" (metav1.FieldsV1, a struct) and "rawmessage" (json.RawMessage, a []byte): raw JSON, compacted. Any other
// json.Marshaler or encoding.TextMarshaler found on the way is an error: it needs an encoder written for it first.
// "omitzero" (Go 1.24) omits a field whose value is zero: by reflect's rule (nil pointer/slice/map, "", 0, false, a
// struct of zero fields), or by the type's IsZero method, which only metav1.Time/MicroTime have here (anything else
// with one is an error).
package main

import (
	"encoding"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	corev1 "k8s.io/api/core/v1"
)

var (
	marshalerType     = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
	textMarshalerType = reflect.TypeOf((*encoding.TextMarshaler)(nil)).Elem()
	isZeroerType      = reflect.TypeOf((*interface{ IsZero() bool })(nil)).Elem()
	special           = map[string]string{
		"k8s.io/apimachinery/pkg/api/resource.Quantity":   "quantity",
		"k8s.io/apimachinery/pkg/apis/meta/v1.Time":       "time",
		"k8s.io/apimachinery/pkg/apis/meta/v1.MicroTime":  "microtime",
		"k8s.io/apimachinery/pkg/util/intstr.IntOrString": "intorstring",
		"k8s.io/apimachinery/pkg/apis/meta/v1.FieldsV1":   "fieldsv1",
		"encoding/json.RawMessage":                        "rawmessage",
	}
)

type field struct {
	Name      string `json:"name"`
	OmitEmpty bool   `json:"omitempty,omitempty"`
	OmitZero  bool   `json:"omitzero,omitempty"`
	Type      string `json:"type"`
}

type table struct {
	Comment  string             `json:"comment"`
	Versions map[string]string  `json:"versions"`
	Roots    map[string]string  `json:"roots"`
	Structs  map[string][]field `json:"structs"`
}

var structs = map[string][]field{}

func fullName(t reflect.Type) string { return t.PkgPath() + "." + t.Name() }

func typeName(t reflect.Type) string {
	if t.Name() != "" && t.PkgPath() != "" {
		if name, ok := special[fullName(t)]; ok {
			return name
		}
	}
	if t.Kind() != reflect.Pointer && (t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType) ||
		t.Implements(textMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType)) {
		panic(fmt.Sprintf("%s has its own MarshalJSON/MarshalText: write an encoder for it", t))
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "int"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "uint"
	case reflect.Float32:
		return "float32"
	case reflect.Float64:
		return "float64"
	case reflect.Pointer:
		return "*" + typeName(t.Elem())
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "bytes"
		}
		return "[]" + typeName(t.Elem())
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			panic(fmt.Sprintf("map key %s is not a string kind", t.Key()))
		}
		return "map[string]" + typeName(t.Elem())
	case reflect.Struct:
		name := fullName(t)
		if _, seen := structs[name]; !seen {
			structs[name] = nil // mark before recursing (recursive types)
			structs[name] = fields(t)
		}
		return name
	}
	panic(fmt.Sprintf("unsupported kind %s (%s)", t.Kind(), t))
}

// candidate is encoding/json's field: its name, whether the name came from a tag, its depth and index path.
type candidate struct {
	name      string
	tagged    bool
	omitEmpty bool
	omitZero  bool
	index     []int
	typ       reflect.Type
}

// fields is encoding/json's typeFields: breadth-first over embedded structs, then the dominant field per name.
func fields(t reflect.Type) []field {
	type level struct {
		typ   reflect.Type
		index []int
	}
	current, next := []level{}, []level{{typ: t}}
	count, nextCount := map[reflect.Type]int{}, map[reflect.Type]int{}
	visited := map[reflect.Type]bool{}
	var found []candidate
	for len(next) > 0 {
		current, next = next, current[:0]
		count, nextCount = nextCount, map[reflect.Type]int{}
		for _, f := range current {
			if visited[f.typ] {
				continue
			}
			visited[f.typ] = true
			for i := 0; i < f.typ.NumField(); i++ {
				sf := f.typ.Field(i)
				if sf.Anonymous {
					ft := sf.Type
					if ft.Kind() == reflect.Pointer {
						panic(fmt.Sprintf("%s embeds a pointer %s: not supported by the Python encoder", f.typ, ft))
					}
					if !sf.IsExported() && ft.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				for _, opt := range strings.Split(opts, ",") {
					if opt == "string" {
						panic(fmt.Sprintf("%s.%s uses the ,string option", f.typ, sf.Name))
					}
				}
				index := append(append([]int{}, f.index...), i)
				ft := sf.Type
				if name == "" && sf.Anonymous && ft.Kind() == reflect.Struct {
					if special[fullName(ft)] == "" {
						nextCount[ft]++
						if nextCount[ft] == 1 {
							next = append(next, level{typ: ft, index: index})
						}
						continue
					}
				}
				tagged := name != ""
				if name == "" {
					name = sf.Name
				}
				omit, omitZero := false, false
				for _, opt := range strings.Split(opts, ",") {
					omit = omit || opt == "omitempty"
					omitZero = omitZero || opt == "omitzero"
				}
				if omitZero && (ft.Implements(isZeroerType) || reflect.PointerTo(ft).Implements(isZeroerType)) {
					if n := special[fullName(ft)]; n != "time" && n != "microtime" {
						panic(fmt.Sprintf("%s.%s: omitzero with the IsZero method of %s", f.typ, sf.Name, ft))
					}
				}
				found = append(found, candidate{name: name, tagged: tagged, omitEmpty: omit, omitZero: omitZero, index: index, typ: ft})
				if count[f.typ] > 1 {
					found = append(found, found[len(found)-1]) // an ambiguous embedding: annihilates below
				}
			}
		}
	}
	sort.SliceStable(found, func(i, j int) bool {
		a, b := found[i], found[j]
		if a.name != b.name {
			return a.name < b.name
		}
		if len(a.index) != len(b.index) {
			return len(a.index) < len(b.index)
		}
		if a.tagged != b.tagged {
			return a.tagged
		}
		return lessIndex(a.index, b.index)
	})
	var kept []candidate
	for i := 0; i < len(found); {
		j := i + 1
		for j < len(found) && found[j].name == found[i].name {
			j++
		}
		group := found[i:j]
		i = j
		if len(group) == 1 {
			kept = append(kept, group[0])
			continue
		}
		if len(group) > 1 && len(group[0].index) == len(group[1].index) && group[0].tagged == group[1].tagged {
			continue // conflict: encoding/json drops the name
		}
		kept = append(kept, group[0])
	}
	sort.Slice(kept, func(i, j int) bool { return lessIndex(kept[i].index, kept[j].index) })
	out := make([]field, 0, len(kept))
	for _, c := range kept {
		out = append(out, field{Name: c.name, OmitEmpty: c.omitEmpty, OmitZero: c.omitZero, Type: typeName(c.typ)})
	}
	return out
}

func lessIndex(a, b []int) bool {
	for k, x := range a {
		if k >= len(b) {
			return false
		}
		if x != b[k] {
			return x < b[k]
		}
	}
	return len(a) < len(b)
}

func main() {
	roots := map[string]string{
		"PodTemplateSpec": typeName(reflect.TypeOf(corev1.PodTemplateSpec{})),
		"CanarySteps":     typeName(reflect.TypeOf([]v1alpha1.CanaryStep{})),
	}
	versions := map[string]string{}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "k8s.io/api" || dep.Path == "k8s.io/apimachinery" {
				versions[dep.Path] = dep.Version
			}
		}
		versions["go"] = strings.Fields(info.GoVersion)[0]
		versions["module"] = info.Main.Path
	}
	out, err := json.MarshalIndent(table{
		Comment:  "Generated by tools/argo/podshape.go (make argo-shapes): do not edit.",
		Versions: versions,
		Roots:    roots,
		Structs:  structs,
	}, "", " ")
	if err != nil {
		panic(err)
	}
	os.Stdout.Write(append(out, '\n'))
}
