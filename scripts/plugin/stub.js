// Stands in for @npmcli/arborist and typescript in the plugin bundle: @pulumi/pulumi loads
// them only to serialize dynamic providers' code, which the plugin never does. Any use throws.
module.exports = new Proxy(
    {},
    {
        get(_, key) {
            if (key === "__esModule" || typeof key === "symbol") return undefined;
            throw new Error(
                `pulumi-resource-multiarch bundles no ${String(key)}: this code path needs the full @pulumi/pulumi`,
            );
        },
    },
);
