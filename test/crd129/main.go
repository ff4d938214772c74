// crd129 runs a CustomResourceDefinition's validation as a Kubernetes 1.29 apiserver does, without
// an apiserver: the chart's minimum Kubernetes is 1.29, which has no CRD validation ratcheting
// (CRDValidationRatcheting is alpha and off in 1.29, on from 1.30, GA and locked on by 1.34), so a
// rule added to the CRD fires on an update of an object that broke it before the rule existed,
// unless the rule itself never fires on unchanged fields. A 1.34 test cluster ratchets and cannot
// show that; this program runs 1.29's own code (k8s.io/apiextensions-apiserver v0.29.6, pinned in
// go.mod for that reason) with 1.29's default feature gates.
//
// Input (a file named as the only argument, or stdin): a JSON array of cases, run in order.
//
//	{"name": "...", "crd": "path/to/crd.yaml", "op": "create", "object": {...}}
//	{"name": "...", "crd": "...", "op": "update" | "updateStatus", "from": "<an earlier case>",
//	 "jsonPatch": [RFC 6902 operations] | "mergePatch": {...} | "object": {...}}
//	{"name": "...", "crd": "...", "op": "validateCRD"}
//	{"name": "...", "crd": "...", "op": "updateCRD", "fromCRD": "path/to/the/old/crd.yaml"}
//
// "from" names an earlier accepted case: its stored object, read back under this case's CRD (as
// the apiserver reads storage: pruned and defaulted by the CRD it serves now), is the old object,
// and the request body is that object with the patch applied (as a PATCH request is served) or
// "object" as given (a PUT). updateStatus goes to the status subresource. validateCRD and updateCRD
// run the CRD's own 1.29 validation (its CEL rules compile in 1.29's CEL environment; updateCRD as
// an upgrade from fromCRD, where 1.29 lets unchanged rules use the stored-expressions environment).
//
// Output (stdout): a JSON array, one result per case:
//
//	{"name", "allowed", "error" (the Invalid error as the apiserver words it), "causes" (one string
//	 per field error), "warnings", "object" (what storage would hold, when allowed)}
//
// The exit status is 0 whenever every case ran, whatever the verdicts; 2 on bad input.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"

	jsonpatch "github.com/evanphx/json-patch"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsinstall "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/install"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apiextensions-apiserver/pkg/crdserverscheme"
	apiextensionsfeatures "k8s.io/apiextensions-apiserver/pkg/features"
	"k8s.io/apiextensions-apiserver/pkg/registry/customresource"
	"k8s.io/apiextensions-apiserver/pkg/registry/customresourcedefinition"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/apiserver/pkg/warning"
	"sigs.k8s.io/yaml"
)

type testCase struct {
	Name       string          `json:"name"`
	CRD        string          `json:"crd"`
	Op         string          `json:"op"`
	Object     json.RawMessage `json:"object,omitempty"`
	From       string          `json:"from,omitempty"`
	JSONPatch  json.RawMessage `json:"jsonPatch,omitempty"`
	MergePatch json.RawMessage `json:"mergePatch,omitempty"`
	FromCRD    string          `json:"fromCRD,omitempty"`
}

type result struct {
	Name     string         `json:"name"`
	Allowed  bool           `json:"allowed"`
	Error    string         `json:"error,omitempty"`
	Causes   []string       `json:"causes,omitempty"`
	Warnings []string       `json:"warnings,omitempty"`
	Object   map[string]any `json:"object,omitempty"`
}

// served is one CRD's single version as the apiserver's customresource handler sets it up
// (apiserver/customresource_handler.go, getOrCreateServingInfoFor).
type served struct {
	crd        *apiextensionsv1.CustomResourceDefinition
	structural *structuralschema.Structural
	strategy   crStrategy
	status     rest.RESTUpdateStrategy
}

// crStrategy is what customresource.NewStrategy returns (an unexported type).
type crStrategy interface {
	rest.RESTCreateStrategy
	rest.RESTUpdateStrategy
}

type recorder struct{ warnings []string }

func (r *recorder) AddWarning(_, text string) { r.warnings = append(r.warnings, text) }

func main() {
	if len(os.Args) == 2 && os.Args[1] == "-version" {
		fmt.Printf("k8s.io/apiextensions-apiserver v0.29.6, %s=%v\n", apiextensionsfeatures.CRDValidationRatcheting,
			utilfeature.DefaultFeatureGate.Enabled(apiextensionsfeatures.CRDValidationRatcheting))
		return
	}
	in := io.Reader(os.Stdin)
	if len(os.Args) == 2 {
		f, err := os.Open(os.Args[1])
		if err != nil {
			fail("%v", err)
		}
		defer f.Close()
		in = f
	} else if len(os.Args) > 2 {
		fail("usage: crd129 [-version | cases.json] (cases on stdin without an argument)")
	}
	var cases []testCase
	if err := json.NewDecoder(in).Decode(&cases); err != nil {
		fail("reading the cases: %v", err)
	}
	// 1.29's defaults, asserted: the point of this program is the absence of ratcheting.
	if utilfeature.DefaultFeatureGate.Enabled(apiextensionsfeatures.CRDValidationRatcheting) {
		fail("CRDValidationRatcheting is on: this is not Kubernetes 1.29's default")
	}

	crds := map[string]*served{}
	stored := map[string]*unstructured.Unstructured{}
	seen := map[string]bool{}
	var results []result
	for _, c := range cases {
		if c.From != "" && !seen[c.From] {
			fail("case %q: from %q: no earlier case of that name", c.Name, c.From)
		}
		seen[c.Name] = true
		s, ok := crds[c.CRD]
		if !ok {
			var err error
			if s, err = serve(c.CRD); err != nil {
				fail("case %q: %v", c.Name, err)
			}
			crds[c.CRD] = s
		}
		r, obj, err := run(c, s, stored)
		if err != nil {
			fail("case %q: %v", c.Name, err)
		}
		if obj != nil {
			stored[c.Name] = obj
		}
		results = append(results, r)
	}
	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", "  ")
	if err := out.Encode(results); err != nil {
		fail("%v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "crd129: "+format+"\n", args...)
	os.Exit(2)
}

func readCRD(path string) (*apiextensionsv1.CustomResourceDefinition, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(data, crd); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	apiextensionsv1.SetObjectDefaults_CustomResourceDefinition(crd)
	if len(crd.Spec.Versions) != 1 || crd.Spec.Versions[0].Schema == nil {
		return nil, fmt.Errorf("%s: one version with a schema expected", path)
	}
	// What the naming controller would accept.
	crd.Status.AcceptedNames = crd.Spec.Names
	return crd, nil
}

// serve builds the strategies as customresource_handler.go does for a version of a CRD.
func serve(path string) (*served, error) {
	crd, err := readCRD(path)
	if err != nil {
		return nil, err
	}
	v := crd.Spec.Versions[0]
	internal := &apiextensions.CustomResourceValidation{}
	if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(v.Schema, internal, nil); err != nil {
		return nil, fmt.Errorf("%s: converting the schema: %v", path, err)
	}
	s, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
	if err != nil {
		return nil, fmt.Errorf("%s: not a structural schema: %v", path, err)
	}
	s = s.DeepCopy()
	if err := structuraldefaulting.PruneDefaults(s); err != nil {
		return nil, fmt.Errorf("%s: pruning defaults: %v", path, err)
	}
	validator, _, err := apiservervalidation.NewSchemaValidator(internal.OpenAPIV3Schema)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	var statusSpec *apiextensions.CustomResourceSubresourceStatus
	var statusValidator apiservervalidation.SchemaValidator
	if v.Subresources != nil && v.Subresources.Status != nil {
		statusSpec = &apiextensions.CustomResourceSubresourceStatus{}
		if statusSchema, ok := internal.OpenAPIV3Schema.Properties["status"]; ok {
			if statusValidator, _, err = apiservervalidation.NewSchemaValidator(&statusSchema); err != nil {
				return nil, fmt.Errorf("%s: %v", path, err)
			}
		}
	}
	if statusSpec == nil {
		return nil, fmt.Errorf("%s: the status subresource is off; the cases assume it on", path)
	}
	kind := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}
	strategy := customresource.NewStrategy(crdserverscheme.NewUnstructuredObjectTyper(), crd.Spec.Scope == apiextensionsv1.NamespaceScoped,
		kind, validator, statusValidator, s, statusSpec, nil)
	return &served{crd: crd, structural: s, strategy: strategy, status: customresource.NewStatusStrategy(strategy)}, nil
}

// decode does to a request body, and to an object read from storage, what the handler's codec does
// after json.Unmarshal: prune unknown fields and nulls (unstructuredSchemaCoercer), then default
// (unstructuredDefaulter), then coerce again (schemaCoercingConverter).
func (s *served) decode(obj map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(obj)}
	structuralpruning.Prune(u.Object, s.structural, true)
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(u.Object, s.structural)
	structuraldefaulting.Default(u.Object, s.structural)
	structuralpruning.Prune(u.Object, s.structural, true)
	return u
}

func run(c testCase, s *served, stored map[string]*unstructured.Unstructured) (result, *unstructured.Unstructured, error) {
	r := result{Name: c.Name}
	rec := &recorder{}
	ctx := warning.WithWarningRecorder(context.Background(), rec)
	var err error
	var obj *unstructured.Unstructured
	switch c.Op {
	case "create":
		if c.Object == nil {
			return r, nil, fmt.Errorf("create needs object")
		}
		body := map[string]any{}
		if err := utiljson.Unmarshal(c.Object, &body); err != nil {
			return r, nil, fmt.Errorf("object: %v", err)
		}
		obj = s.decode(body)
		ctx = genericapirequest.WithNamespace(ctx, obj.GetNamespace())
		rest.FillObjectMetaSystemFields(obj)
		if err = rest.BeforeCreate(s.strategy, ctx, obj); err == nil {
			obj.SetResourceVersion("1")
		}
	case "update", "updateStatus":
		prev, ok := stored[c.From]
		if !ok {
			r.Error = fmt.Sprintf("not run: the case it starts from, %q, was refused", c.From)
			return r, nil, nil
		}
		old := s.decode(prev.Object)
		body, berr := requestBody(c, old)
		if berr != nil {
			return r, nil, berr
		}
		obj = s.decode(body)
		ctx = genericapirequest.WithNamespace(ctx, old.GetNamespace())
		var update rest.RESTUpdateStrategy = s.strategy
		if c.Op == "updateStatus" {
			update = s.status
		}
		if err = rest.BeforeUpdate(update, ctx, obj, old); err == nil {
			rv, _ := strconv.Atoi(old.GetResourceVersion())
			obj.SetResourceVersion(strconv.Itoa(rv + 1))
		}
	case "validateCRD":
		err = validateCRD(ctx, s.crd, nil)
	case "updateCRD":
		old, rerr := readCRD(c.FromCRD)
		if rerr != nil {
			return r, nil, rerr
		}
		err = validateCRD(ctx, s.crd, old)
	default:
		return r, nil, fmt.Errorf("op %q: create, update, updateStatus, validateCRD or updateCRD", c.Op)
	}
	r.Warnings = rec.warnings
	if err != nil {
		r.Error = err.Error()
		if st, ok := err.(apierrors.APIStatus); ok && st.Status().Details != nil {
			for _, cause := range st.Status().Details.Causes {
				r.Causes = append(r.Causes, cause.Field+": "+cause.Message)
			}
		}
		return r, nil, nil
	}
	r.Allowed = true
	if obj != nil {
		r.Object = obj.Object
	}
	return r, obj, nil
}

func requestBody(c testCase, old *unstructured.Unstructured) (map[string]any, error) {
	doc, err := json.Marshal(old.Object)
	if err != nil {
		return nil, err
	}
	switch {
	case c.Object != nil:
		doc = c.Object
	case c.JSONPatch != nil:
		p, err := jsonpatch.DecodePatch(c.JSONPatch)
		if err != nil {
			return nil, fmt.Errorf("jsonPatch: %v", err)
		}
		if doc, err = p.Apply(doc); err != nil {
			return nil, fmt.Errorf("jsonPatch: %v", err)
		}
	case c.MergePatch != nil:
		if doc, err = jsonpatch.MergePatch(doc, c.MergePatch); err != nil {
			return nil, fmt.Errorf("mergePatch: %v", err)
		}
	default:
		return nil, fmt.Errorf("an update needs object, jsonPatch or mergePatch")
	}
	// As the apiserver's JSON decoder: whole numbers become int64, as CEL and the schema expect.
	body := map[string]any{}
	return body, utiljson.Unmarshal(doc, &body)
}

// validateCRD runs the CRD registry's strategy (customresourcedefinition/strategy.go) on a create,
// or on an update from old, as 1.29's apiserver does for kubectl apply of the CRD.
func validateCRD(ctx context.Context, crd, old *apiextensionsv1.CustomResourceDefinition) error {
	scheme := runtime.NewScheme()
	apiextensionsinstall.Install(scheme)
	strategy := customresourcedefinition.NewStrategy(scheme)
	internal := func(v1 *apiextensionsv1.CustomResourceDefinition) (*apiextensions.CustomResourceDefinition, error) {
		out := &apiextensions.CustomResourceDefinition{}
		err := apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(v1.DeepCopy(), out, nil)
		return out, err
	}
	ctx = genericapirequest.WithNamespace(ctx, "")
	obj, err := internal(crd)
	if err != nil {
		return err
	}
	if old == nil {
		rest.FillObjectMetaSystemFields(obj)
		return rest.BeforeCreate(strategy, ctx, obj)
	}
	prev, err := internal(old)
	if err != nil {
		return err
	}
	rest.FillObjectMetaSystemFields(prev)
	if err := rest.BeforeCreate(strategy, ctx, prev); err != nil {
		return fmt.Errorf("the old CRD: %v", err)
	}
	prev.ResourceVersion = "1"
	obj.ResourceVersion = "1"
	return rest.BeforeUpdate(strategy, ctx, obj, prev)
}
