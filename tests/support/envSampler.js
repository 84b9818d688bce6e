// Samples every new process's argv and environment (/proc/<pid>/cmdline and environ), in a
// process of its own so the test's event loop cannot slow it: each pid when first seen and
// again for 300 ms (a child is seen before and after its exec). Needles (secret values) come
// in NEEDLES ({"name": "value"}); what it prints names them and never holds a value: one JSON
// line per sighting {pid, ppid, argv (needles replaced by <name>), pulumiVars (names of
// PULUMI_* variables), envHas (needle names in the environment), argvHas}, on SIGTERM.
"use strict";
const fs = require("fs");

const needles = Object.entries(JSON.parse(process.env.NEEDLES || "{}"));
const seen = new Map(); // pid -> { first, cmdline }
const out = [];

function read(file) {
    try {
        return fs.readFileSync(file, "latin1");
    } catch {
        return undefined;
    }
}

function sample() {
    const now = Date.now();
    for (const p of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
        const known = seen.get(p);
        if (known && now - known.first > 300) continue;
        const cmdline = read(`/proc/${p}/cmdline`);
        if (cmdline === undefined || cmdline === "" || (known && known.cmdline === cmdline)) continue;
        seen.set(p, { first: known ? known.first : now, cmdline });
        const environ = read(`/proc/${p}/environ`) || "";
        const stat = read(`/proc/${p}/stat`) || "";
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        let argv = cmdline.split("\0").filter(Boolean).join(" ");
        const argvHas = [],
            envHas = [];
        for (const [name, value] of needles) {
            if (argv.includes(value)) {
                argvHas.push(name);
                argv = argv.split(value).join(`<${name}>`);
            }
            if (environ.includes(value)) envHas.push(name);
        }
        const pulumiVars = environ
            .split("\0")
            .map((kv) => kv.split("=")[0])
            .filter((k) => /^PULUMI_/i.test(k));
        out.push({ pid: Number(p), ppid, argv, pulumiVars, envHas, argvHas });
    }
}

const timer = setInterval(sample, 10);
process.on("SIGTERM", () => {
    clearInterval(timer);
    process.stdout.write(out.map((o) => JSON.stringify(o)).join("\n") + "\n", () => process.exit(0));
});
process.stdout.write("sampling\n");
