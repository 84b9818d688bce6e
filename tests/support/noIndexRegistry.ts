// A registry that keeps no manifest lists, like the article's company registry: a small
// HTTP proxy in front of the real registry (127.0.0.1:5000) that refuses to store an index
// or manifest list (400 MANIFEST_INVALID) and answers 404 where the upstream would return
// one. Everything else (blobs, single-platform manifests, tags) passes through unchanged.
import * as http from "http";

const LIST_TYPES = /application\/vnd\.(oci\.image\.index\.v1|docker\.distribution\.manifest\.list\.v2)\+json/;

export function startNoIndexRegistry(port: number, upstream = { host: "127.0.0.1", port: 5000 }): Promise<http.Server> {
    const server = http.createServer((req, res) => {
        const isManifest = /\/manifests\//.test(req.url ?? "");
        if (isManifest && req.method === "PUT" && LIST_TYPES.test(String(req.headers["content-type"] ?? ""))) {
            req.resume();
            res.writeHead(400, { "Content-Type": "application/json" });
            res.end(
                JSON.stringify({
                    errors: [
                        { code: "MANIFEST_INVALID", message: "manifest lists are not supported by this registry" },
                    ],
                }),
            );
            return;
        }
        forward(req, res, upstream, port, (ur) => {
            if (!(isManifest && LIST_TYPES.test(String(ur.headers["content-type"] ?? "")))) return false;
            ur.resume();
            res.writeHead(404, { "Content-Type": "application/json" });
            res.end(JSON.stringify({ errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown" }] }));
            return true;
        });
    });
    return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

/**
 * Passes `req` on to the registry `upstream` and its answer back to `res`, an upload's Location
 * rewritten to this proxy's `port`; `intercept` may answer instead (it returns true when it did).
 */
export function forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    upstream: { host: string; port: number },
    port: number,
    intercept: (ur: http.IncomingMessage) => boolean = () => false,
): void {
    const up = http.request(
        {
            ...upstream,
            method: req.method,
            path: req.url,
            headers: { ...req.headers, host: `${upstream.host}:${upstream.port}` },
        },
        (ur) => {
            if (intercept(ur)) return;
            const headers = { ...ur.headers };
            if (headers.location)
                headers.location = String(headers.location).replace(
                    `${upstream.host}:${upstream.port}`,
                    `127.0.0.1:${port}`,
                );
            res.writeHead(ur.statusCode ?? 502, headers);
            ur.pipe(res);
        },
    );
    up.on("error", (e) => {
        res.writeHead(502);
        res.end(String(e));
    });
    req.pipe(up);
}

// As a service (scripts/bootstrap starts it for stack "company"):
//   node -r ts-node/register/transpile-only tests/support/noIndexRegistry.ts PORT
if (require.main === module) {
    const port = Number(process.argv[2]);
    if (!port) throw new Error("usage: noIndexRegistry.ts PORT");
    startNoIndexRegistry(port).then(() => console.log(`no-index registry on 127.0.0.1:${port} -> 127.0.0.1:5000`));
}
