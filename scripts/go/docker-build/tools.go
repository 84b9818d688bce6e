//go:build tools

package tools

import _ "github.com/pulumi/pulumi-docker-build/provider/cmd/pulumi-resource-docker-build"
