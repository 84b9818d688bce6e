// sdkgen writes an SDK for this project's provider plugin from its schema, with Pulumi's own
// code generators (pkg/v3 codegen), offline: the v3.68 language hosts built here have no
// GeneratePackage, so `pulumi package gen-sdk` cannot do it.
//
//	sdkgen <schema.json> <language: python|nodejs|go> <out dir>
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	nodejsgen "github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	pythongen "github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "sdkgen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("usage: sdkgen <schema.json> <python|nodejs|go> <out dir>")
	}
	text, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal(text, &spec); err != nil {
		return fmt.Errorf("%s: %w", args[0], err)
	}
	// The schema refers to no other package, so no plugin loader is needed.
	loader := schema.NewPluginLoader(nil)
	pkg, diags, err := schema.BindSpec(spec, loader, schema.ValidationOptions{})
	if err != nil {
		return err
	}
	if diags.HasErrors() {
		return fmt.Errorf("the schema is invalid: %s", diags.Error())
	}
	var files map[string][]byte
	switch args[1] {
	case "python":
		files, err = pythongen.GeneratePackage("pulumi-multiarch sdkgen", pkg, nil, loader)
	case "nodejs":
		files, err = nodejsgen.GeneratePackage("pulumi-multiarch sdkgen", pkg, nil, nil, false, loader)
	case "go":
		files, err = gogen.GeneratePackage("pulumi-multiarch sdkgen", pkg, nil)
	default:
		return fmt.Errorf("unknown language %q: use python, nodejs or go", args[1])
	}
	if err != nil {
		return err
	}
	for name, content := range files {
		path := filepath.Join(args[2], name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, content, 0o644); err != nil {
			return err
		}
	}
	return nil
}
